//! The wire types of assetlib's native API (`/api/v1`, SPEC 5.4): the answers and the request
//! bodies. The server serializes its answers and reads its bodies as these types, its OpenAPI
//! document describes them from the same definitions, and the client crate speaks them: the
//! three cannot drift apart. Request bodies refuse unknown fields.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// One version of an asset's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub size: u64,
    pub content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

/// An asset. Times are RFC 3339 UTC; `favorite` is the caller's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Asset {
    pub id: String,
    pub account_id: i64,
    /// `path/name`.
    pub key: String,
    pub path: String,
    pub name: String,
    pub size: u64,
    pub content_type: String,
    /// BLAKE3 of the content, hex.
    pub hash: String,
    /// `{public_base_url}/files/{accountId}/{key}`, served or not.
    pub url: String,
    pub created_at: String,
    pub last_modified: String,
    /// The uploading user's id.
    pub created_by: Option<String>,
    pub tags: Vec<String>,
    pub skus: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub collection_ids: Vec<String>,
    pub batch_id: Option<String>,
    pub approved_at: Option<String>,
    pub sensitive_at: Option<String>,
    pub archived_at: Option<String>,
    pub expires_at: Option<String>,
    pub license_expires_at: Option<String>,
    pub favorite: bool,
    pub views: u64,
    pub downloads: u64,
    /// `original`, and the renditions the asset has.
    pub versions: BTreeMap<String, Version>,
}

/// A page of assets; `nextCursor` is `null` on the last page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetPage {
    pub items: Vec<Asset>,
    pub next_cursor: Option<String>,
}

/// A collection of an account's assets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Collection {
    pub id: String,
    pub name: String,
    pub description: String,
    pub asset_count: u64,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CollectionPage {
    pub items: Vec<Collection>,
    pub next_cursor: Option<String>,
}

/// An API key; `key`, its secret, only in the answer that created it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Key {
    pub id: String,
    pub name: String,
    pub user_id: String,
    pub read_only: bool,
    pub created_at: String,
    pub last_used_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyPage {
    pub items: Vec<Key>,
    pub next_cursor: Option<String>,
}

/// An entry that could not be stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UploadError {
    pub entry: String,
    pub reason: String,
}

/// An upload: `status` is `queued`, `processing`, `completed`, `completed_with_errors` or
/// `failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Upload {
    pub id: String,
    pub status: String,
    pub total_items: u64,
    pub total_processed: u64,
    pub message: String,
    pub errors: Vec<UploadError>,
}

/// The answer to a zip upload: it is expanded by a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UploadAccepted {
    pub upload: Upload,
}

/// One entry of a folder level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum TreeEntry {
    Folder { name: String, path: String },
    Asset { asset: Box<Asset> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tree {
    pub path: String,
    pub entries: Vec<TreeEntry>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Folder {
    pub path: String,
}

/// A signed link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    pub url: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BatchFailure {
    /// The id or the key, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub code: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BatchDeleted {
    pub deleted: Vec<String>,
    pub failed: Vec<BatchFailure>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MeUser {
    pub id: String,
    pub name: String,
    pub admin: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MeAccount {
    pub id: i64,
    pub name: String,
    /// `viewer`, `editor` or `owner`.
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub user: MeUser,
    pub accounts: Vec<MeAccount>,
}

/// The body of `POST /api/v1/session`: the API key to sign in with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionBody {
    pub key: String,
}

/// A web UI session: who it acts as, the token its state-changing requests send in
/// `X-CSRF-Token`, and when it ends (RFC 3339). The session itself is the HttpOnly cookie
/// `assetlib_session`, which scripts cannot read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub csrf_token: String,
    pub expires_at: String,
    pub user: MeUser,
    pub accounts: Vec<MeAccount>,
}

/// An RFC 9457 problem. `code` is one of `invalid_parameter`, `invalid_body`, `not_found`,
/// `conflict`, `too_large`, `unauthenticated`, `forbidden`, `precondition_failed`,
/// `timed_out`, `rate_limited`, `unavailable`, `internal`; `type` names the precise error
/// (`urn:assetlib:problem:asset_not_found`); `param` the parameter or field at fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
}

/// The body of `POST .../collections` (`name` required) and `PATCH .../collections/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectionBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A member that is present: `Some(None)` for `null`, `Some(Some(v))` for a value.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A JSON merge patch (RFC 7396) of an asset: each member absent (left as it is), `null`
/// (cleared) or a value. In `metadata`, a key set to `null` is removed; `metadata: null`
/// empties it. `approved`, `sensitive` and `archived` set or clear their times; `favorite` is
/// the caller's; `key` renames or moves the asset, which keeps its id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AssetPatch {
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub tags: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub skus: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Option<serde_json::Map<String, serde_json::Value>>>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub collection_ids: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitive: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
    /// RFC 3339.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Option<String>>,
    /// RFC 3339.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub license_expires_at: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub favorite: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// The body of `POST .../links`: every member optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LinkRequest {
    /// `original` unless given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Seconds, 1 to 604800; 300 unless given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// `inline` (default) or `attachment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
}

/// The body of `POST .../assets/{id}/copy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CopyRequest {
    pub destination_key: String,
    #[serde(default)]
    pub overwrite: bool,
}

/// The body of `POST .../assets/batch-delete`: `ids` or `keys`, 1 to 1000.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchDeleteRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
}

/// The body of `POST .../folders`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FolderRequest {
    pub path: String,
}

/// The body of `POST .../keys`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeyRequest {
    pub name: String,
    #[serde(default)]
    pub read_only: bool,
}
