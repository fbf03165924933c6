//! Rows as both engines return them, decoded by `sqlx::FromRow` (a column of the wrong type is
//! an error, not a panic), and their conversion into the core's model. Booleans are BOOLEAN on
//! PostgreSQL and INTEGER on SQLite; sqlx decodes both as `bool`.

use assetlib_core::auth::Principal;
use assetlib_core::model::{
    Account, ApiKeyInfo, Asset, Attributes, Collection, FailedJob, ItemError, Job, JobKind, JobQueue, Metadata,
    NewApiKey, ORIGINAL, QueueEntry, QueueStatus, Rendition, Renditions, Role, User,
};
use assetlib_core::{AccountId, AssetId, BlobKey, CollectionId, Error, JobId, QueueId, Result, UserId};
use sqlx::FromRow;
use std::collections::HashMap;

#[derive(FromRow)]
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

#[derive(FromRow)]
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

#[derive(FromRow)]
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

#[derive(FromRow)]
pub(crate) struct ApiKeyInfoRow {
    id: Option<String>,
    name: String,
    user_id: String,
    account_id: Option<i64>,
    read_only: bool,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl From<ApiKeyInfoRow> for ApiKeyInfo {
    fn from(r: ApiKeyInfoRow) -> Self {
        ApiKeyInfo {
            id: r.id.unwrap_or_default(),
            name: r.name,
            user: UserId(r.user_id),
            account: r.account_id.map(AccountId),
            read_only: r.read_only,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

#[derive(FromRow)]
pub(crate) struct ApiKeyRow {
    hash: String,
    user_id: String,
    account_id: Option<i64>,
    read_only: bool,
    created_at: i64,
    id: Option<String>,
    name: String,
}

impl From<ApiKeyRow> for NewApiKey {
    fn from(r: ApiKeyRow) -> Self {
        NewApiKey {
            id: r.id.unwrap_or_else(NewApiKey::generate_id),
            name: r.name,
            hash: r.hash,
            user: UserId(r.user_id),
            account: r.account_id.map(AccountId),
            read_only: r.read_only,
            created_at: r.created_at,
        }
    }
}

/// A key with its user, for [`Principal`] (memberships come from a second statement).
#[derive(FromRow)]
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
#[derive(FromRow)]
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
    tags: String,
    skus: String,
    collection_ids: String,
    favourites: String,
    batch_id: Option<String>,
    approved_at: Option<i64>,
    expires_at: Option<i64>,
    license_expires_at: Option<i64>,
    views: i64,
    downloads: i64,
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
            attributes: Attributes {
                tags: list_from(&r.tags),
                skus: list_from(&r.skus),
                collection_ids: list_from::<String>(&r.collection_ids).into_iter().map(CollectionId).collect(),
                batch_id: r.batch_id,
                approved_at: r.approved_at,
                expires_at: r.expires_at,
                license_expires_at: r.license_expires_at,
                favourites: list_from::<String>(&r.favourites).into_iter().map(UserId).collect(),
            },
            views: u64::try_from(r.views).unwrap_or(0),
            downloads: u64::try_from(r.downloads).unwrap_or(0),
        }
    }
}

/// An account and, through a LEFT JOIN, its asset at a key (every asset column NULL if none).
pub(crate) struct AccountAndAssetRow {
    account: AccountRow,
    asset: Option<AssetRow>,
}

impl<'r, R: sqlx::Row> FromRow<'r, R> for AccountAndAssetRow
where
    &'r str: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    AssetRow: FromRow<'r, R>,
{
    fn from_row(row: &'r R) -> sqlx::Result<Self> {
        let account = AccountRow {
            id: row.try_get("acc_id")?,
            name: row.try_get("acc_name")?,
            public: row.try_get("acc_public")?,
            created_at: row.try_get("acc_created_at")?,
        };
        let found = row.try_get::<Option<String>, _>("id")?.is_some();
        let asset = if found { Some(AssetRow::from_row(row)?) } else { None };
        Ok(Self { account, asset })
    }
}

impl From<AccountAndAssetRow> for (Account, Option<Asset>) {
    fn from(r: AccountAndAssetRow) -> Self {
        (r.account.into(), r.asset.map(Asset::from))
    }
}

#[derive(FromRow)]
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
#[derive(FromRow)]
pub(crate) struct JobRow {
    id: i64,
    payload: String,
    attempts: i32,
    claims: i32,
}

impl TryFrom<JobRow> for Job {
    type Error = Error;

    fn try_from(r: JobRow) -> Result<Self> {
        Ok(Job {
            id: JobId(r.id),
            kind: JobKind::from_json(&r.payload)?,
            attempts: u32::try_from(r.attempts).unwrap_or(0),
            claim: u32::try_from(r.claims).unwrap_or(0),
        })
    }
}

/// A failed job ([`assetlib_core::ports::JobStore::failed_jobs`]).
#[derive(FromRow)]
pub(crate) struct FailedJobRow {
    id: i64,
    queue: String,
    payload: String,
    attempts: i32,
    last_error: Option<String>,
    created_at: i64,
}

impl TryFrom<FailedJobRow> for FailedJob {
    type Error = Error;

    fn try_from(r: FailedJobRow) -> Result<Self> {
        let queue = JobQueue::ALL
            .into_iter()
            .find(|q| q.as_str() == r.queue)
            .ok_or_else(|| Error::internal(format!("bad job queue {}", r.queue)))?;
        Ok(FailedJob {
            id: r.id,
            queue,
            kind: JobKind::from_json(&r.payload)?,
            attempts: u32::try_from(r.attempts).unwrap_or(0),
            error: r.last_error.unwrap_or_default(),
            created_at: r.created_at,
        })
    }
}

/// One recorded rendition ([`assetlib_core::ports::RenditionStore`]); `original` rows carry
/// only the original's size in pixels.
#[derive(FromRow)]
pub(crate) struct RenditionRow {
    pub(crate) source_blob: String,
    pub(crate) version: String,
    blob_key: String,
    size: i64,
    content_type: String,
    extension: String,
    width: i32,
    height: i32,
}

/// Groups rendition rows by their source blob.
pub(crate) fn renditions_from(rows: Vec<RenditionRow>) -> HashMap<BlobKey, Renditions> {
    let mut out: HashMap<BlobKey, Renditions> = HashMap::new();
    for r in rows {
        let entry = out.entry(BlobKey(r.source_blob)).or_default();
        let (width, height) = (u32::try_from(r.width).unwrap_or(0), u32::try_from(r.height).unwrap_or(0));
        if r.version == ORIGINAL {
            entry.original = Some((width, height));
        } else {
            entry.versions.push(Rendition {
                version: r.version,
                blob: BlobKey(r.blob_key),
                size: u64::try_from(r.size).unwrap_or(0),
                content_type: r.content_type,
                extension: r.extension,
                width,
                height,
            });
        }
    }
    out
}

/// An asset's `metadata` column (a JSON object of strings); a value that is not one reads as
/// empty, and is logged.
pub(crate) fn metadata_from(raw: &str) -> Metadata {
    serde_json::from_str(raw).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "unreadable asset metadata; read as empty");
        Metadata::new()
    })
}

/// A JSON array of strings (tags, SKUs, collection and user ids); one that is not reads as
/// empty, and is logged.
pub(crate) fn list_from<T: serde::de::DeserializeOwned>(raw: &str) -> Vec<T> {
    serde_json::from_str(raw).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "unreadable asset attribute list; read as empty");
        Vec::new()
    })
}

pub(crate) fn list_json<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

pub(crate) fn metadata_json(metadata: &Metadata) -> String {
    serde_json::to_string(metadata).unwrap_or_else(|_| "{}".to_owned())
}

#[derive(FromRow)]
pub(crate) struct CollectionRow {
    id: String,
    account_id: i64,
    name: String,
    description: String,
    created_at: i64,
    last_modified: i64,
    created_by: Option<String>,
}

impl From<CollectionRow> for Collection {
    fn from(r: CollectionRow) -> Self {
        Collection {
            id: CollectionId(r.id),
            account: AccountId(r.account_id),
            name: r.name,
            description: r.description,
            created_at: r.created_at,
            last_modified: r.last_modified,
            created_by: r.created_by.map(UserId),
        }
    }
}
