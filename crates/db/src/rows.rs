//! Rows as both engines return them, decoded by `sqlx::FromRow` (a column of the wrong type is
//! an error, not a panic), and their conversion into the core's model. Booleans are BOOLEAN on
//! PostgreSQL and INTEGER on SQLite; sqlx decodes both as `bool`.

use assetlib_core::auth::Principal;
use assetlib_core::model::{
    Account, Asset, ItemError, Job, JobKind, Metadata, NewApiKey, QueueEntry, QueueStatus, Role, User,
};
use assetlib_core::{AccountId, AssetId, BlobKey, Error, JobId, QueueId, Result, UserId};
use std::collections::HashMap;

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    id: i64,
    name: String,
    public: bool,
    created_at: i64,
}

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Self {
        Account { id: AccountId(r.id), name: r.name, public: r.public, created_at: r.created_at }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: String,
    name: String,
    admin: bool,
    created_at: i64,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User { id: UserId(r.id), name: r.name, admin: r.admin, created_at: r.created_at }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MembershipRow {
    pub(crate) user_id: String,
    pub(crate) account_id: i64,
    role: String,
}

impl MembershipRow {
    pub(crate) fn role(&self) -> Result<Role> {
        Role::parse(&self.role).ok_or_else(|| Error::internal(format!("bad role {}", self.role)))
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    hash: String,
    user_id: String,
    account_id: Option<i64>,
    read_only: bool,
    created_at: i64,
}

impl From<ApiKeyRow> for NewApiKey {
    fn from(r: ApiKeyRow) -> Self {
        NewApiKey {
            hash: r.hash,
            user: UserId(r.user_id),
            account: r.account_id.map(AccountId),
            read_only: r.read_only,
            created_at: r.created_at,
        }
    }
}

/// A key with its user, for [`Principal`] (memberships come from a second statement).
#[derive(sqlx::FromRow)]
pub(crate) struct KeyOwnerRow {
    pub(crate) user_id: String,
    account_id: Option<i64>,
    read_only: bool,
    name: String,
    admin: bool,
}

impl KeyOwnerRow {
    pub(crate) fn principal(self, memberships: Vec<MembershipRow>) -> Result<Principal> {
        let roles =
            memberships.iter().map(|m| Ok((AccountId(m.account_id), m.role()?))).collect::<Result<HashMap<_, _>>>()?;
        Ok(Principal {
            user: UserId(self.user_id),
            name: self.name,
            admin: self.admin,
            roles,
            key_account: self.account_id.map(AccountId),
            read_only: self.read_only,
        })
    }
}

/// The columns of [`crate::sql::asset_columns`].
#[derive(sqlx::FromRow)]
pub(crate) struct AssetRow {
    id: String,
    account_id: i64,
    path: String,
    name: String,
    size: i64,
    content_type: String,
    hash: String,
    blob_key: String,
    created_at: i64,
    last_modified: i64,
    created_by: Option<String>,
    archived_at: Option<i64>,
    sensitive_at: Option<i64>,
    metadata: String,
}

impl From<AssetRow> for Asset {
    fn from(r: AssetRow) -> Self {
        Asset {
            id: AssetId(r.id),
            account: AccountId(r.account_id),
            path: r.path,
            name: r.name,
            size: u64::try_from(r.size).unwrap_or(0),
            content_type: r.content_type,
            hash: r.hash,
            blob: BlobKey(r.blob_key),
            created_at: r.created_at,
            last_modified: r.last_modified,
            created_by: r.created_by.map(UserId),
            archived_at: r.archived_at,
            sensitive_at: r.sensitive_at,
            metadata: metadata_from(&r.metadata),
        }
    }
}

/// An account and, through a LEFT JOIN, its asset at a key (all asset columns NULL if none).
#[derive(sqlx::FromRow)]
pub(crate) struct AccountAndAssetRow {
    acc_id: i64,
    acc_name: String,
    acc_public: bool,
    acc_created_at: i64,
    id: Option<String>,
    account_id: Option<i64>,
    path: Option<String>,
    name: Option<String>,
    size: Option<i64>,
    content_type: Option<String>,
    hash: Option<String>,
    blob_key: Option<String>,
    created_at: Option<i64>,
    last_modified: Option<i64>,
    created_by: Option<String>,
    archived_at: Option<i64>,
    sensitive_at: Option<i64>,
    metadata: Option<String>,
}

impl From<AccountAndAssetRow> for (Account, Option<Asset>) {
    fn from(r: AccountAndAssetRow) -> Self {
        let account =
            Account { id: AccountId(r.acc_id), name: r.acc_name, public: r.acc_public, created_at: r.acc_created_at };
        let asset = match (r.id, r.account_id, r.path, r.name, r.blob_key) {
            (Some(id), Some(account_id), Some(path), Some(name), Some(blob_key)) => Some(Asset::from(AssetRow {
                id,
                account_id,
                path,
                name,
                size: r.size.unwrap_or(0),
                content_type: r.content_type.unwrap_or_default(),
                hash: r.hash.unwrap_or_default(),
                blob_key,
                created_at: r.created_at.unwrap_or(0),
                last_modified: r.last_modified.unwrap_or(0),
                created_by: r.created_by,
                archived_at: r.archived_at,
                sensitive_at: r.sensitive_at,
                metadata: r.metadata.unwrap_or_default(),
            })),
            _ => None,
        };
        (account, asset)
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct QueueRow {
    id: String,
    account_id: i64,
    status: String,
    total_items: i64,
    total_processed: i64,
    message: String,
    errors: String,
    source_blob: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<QueueRow> for QueueEntry {
    type Error = Error;

    fn try_from(r: QueueRow) -> Result<Self> {
        Ok(QueueEntry {
            id: QueueId(r.id),
            account: AccountId(r.account_id),
            status: QueueStatus::parse(&r.status)
                .ok_or_else(|| Error::internal(format!("bad queue status {}", r.status)))?,
            total_items: u64::try_from(r.total_items).unwrap_or(0),
            total_processed: u64::try_from(r.total_processed).unwrap_or(0),
            message: r.message,
            errors: serde_json::from_str::<Vec<ItemError>>(&r.errors).map_err(Error::internal)?,
            source_blob: r.source_blob.map(BlobKey),
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// A claimed job (`attempts` is INTEGER on both engines).
#[derive(sqlx::FromRow)]
pub(crate) struct JobRow {
    id: i64,
    payload: String,
    attempts: i32,
}

impl TryFrom<JobRow> for Job {
    type Error = Error;

    fn try_from(r: JobRow) -> Result<Self> {
        Ok(Job {
            id: JobId(r.id),
            kind: JobKind::from_json(&r.payload)?,
            attempts: u32::try_from(r.attempts).unwrap_or(0),
        })
    }
}

/// An asset's `metadata` column (a JSON object of strings); a value that is not one reads as
/// empty, and is logged.
pub(crate) fn metadata_from(raw: &str) -> Metadata {
    serde_json::from_str(raw).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "unreadable asset metadata; read as empty");
        Metadata::new()
    })
}

pub(crate) fn metadata_json(metadata: &Metadata) -> String {
    serde_json::to_string(metadata).unwrap_or_else(|_| "{}".to_owned())
}
