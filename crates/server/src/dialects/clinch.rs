//! The Clinch Assets Library API (`/{AccountId}/Assets/...`, SPEC section 5.3): authenticated
//! by the `X-ApiKey` header, errors as `{"error": "..."}`. Query parameter names and JSON keys
//! are matched case-insensitively.

use crate::AppState;
use crate::multipart::{Multipart, Part};
use assetlib_core::auth::{Access, Principal};
use assetlib_core::model::{Asset, Metadata};
use assetlib_core::service::Zips;
use assetlib_core::{AccountId, Error, ErrorKind};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use base64::Engine;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{account_id}/Assets/Asset", put(put_asset).post(put_asset).delete(delete_asset))
        .route("/{account_id}/Assets/AssetJSON", put(put_asset_json))
        .route("/{account_id}/Assets/Asset/AssetMetadata", put(put_asset_metadata).get(get_asset_metadata))
        .route("/{account_id}/Assets/Folder", put(put_folder).delete(delete_folder))
        .route("/{account_id}/Assets/Subfolders", get(get_subfolders_list))
        .route("/{account_id}/Assets/AssetList", get(get_asset_list))
        .route("/{account_id}/Assets/CopyAsset", post(copy_asset))
        .route("/{account_id}/Assets/MoveAssets", post(move_assets))
        .route("/{account_id}/Assets/MultipleAssets", delete(delete_multiple_assets))
}

const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 1000;
/// A JSON body without file content (metadata, copy, bulk delete) is at most this large.
const SMALL_BODY: usize = 1 << 20;

/// A Clinch error: a status and `{"error": "..."}`.
#[derive(Debug)]
pub struct ClinchError(StatusCode, String);

impl ClinchError {
    fn bad_request(msg: impl Into<String>) -> Self {
        Self(StatusCode::BAD_REQUEST, msg.into())
    }
}

impl From<Error> for ClinchError {
    fn from(e: Error) -> Self {
        let status = match e.kind {
            // Validation and missing things are 400, as the seed's notes have them.
            ErrorKind::Invalid | ErrorKind::NotFound | ErrorKind::Conflict | ErrorKind::TooLarge => {
                StatusCode::BAD_REQUEST
            }
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self(status, e.message)
    }
}

impl IntoResponse for ClinchError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({ "error": self.1 }))).into_response()
    }
}

type ClinchResult<T> = Result<T, ClinchError>;
type Json = axum::Json<Value>;

async fn principal(state: &AppState, headers: &HeaderMap) -> ClinchResult<Principal> {
    let Some(key) = headers.get("x-apikey") else {
        return Err(ClinchError(StatusCode::UNAUTHORIZED, "Missing API key: send it in the X-ApiKey header.".into()));
    };
    let key = key.to_str().map_err(|_| ClinchError(StatusCode::UNAUTHORIZED, "Invalid API key.".into()))?;
    Ok(state.lib.authenticate(key).await?)
}

fn account_id(raw: &str) -> ClinchResult<AccountId> {
    super::parse_account_id(raw)
        .ok_or_else(|| ClinchError::bad_request(format!("Invalid AccountId '{raw}': it must be a positive integer.")))
}

/// The caller and the account of a request. The caller's reach to the account is checked
/// before any parameter, so that another account's key gets 403 whatever else it sent; each
/// operation still checks the access it needs (a viewer's write is refused there).
async fn caller(state: &AppState, headers: &HeaderMap, account: &str) -> ClinchResult<(Principal, AccountId)> {
    let who = principal(state, headers).await?;
    let account = account_id(account)?;
    state.lib.authorize(&who, account, Access::Read).await?;
    Ok((who, account))
}

/// Query parameters with lowercased names; a repeated parameter keeps its first value.
struct Query(HashMap<String, String>);

impl Query {
    fn parse(raw: Option<String>) -> Self {
        let mut map = HashMap::new();
        for (k, v) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
            map.entry(k.to_lowercase()).or_insert_with(|| v.into_owned());
        }
        Self(map)
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&name.to_lowercase()).map(String::as_str)
    }
    /// A parameter that must be present and non-empty.
    fn required(&self, name: &str) -> ClinchResult<&str> {
        self.get(name).filter(|v| !v.is_empty()).ok_or_else(|| missing(name))
    }
    fn flag(&self, name: &str, default: bool) -> ClinchResult<bool> {
        match self.get(name) {
            None | Some("") => Ok(default),
            Some(raw) => parse_flag(raw)
                .ok_or_else(|| ClinchError::bad_request(format!("Invalid {name} '{raw}': it must be true or false."))),
        }
    }
}

fn parse_flag(raw: &str) -> Option<bool> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

fn missing(name: &str) -> ClinchError {
    ClinchError::bad_request(format!("Parameter '{name}' is required."))
}

/// A JSON object body with lowercased keys.
struct Fields(Map<String, Value>);

impl Fields {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(&name.to_lowercase())
    }
    fn string(&self, name: &str) -> ClinchResult<Option<&str>> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ClinchError::bad_request(format!("Field '{name}' must be a string."))),
        }
    }
    fn required_string(&self, name: &str) -> ClinchResult<&str> {
        self.string(name)?.filter(|s| !s.is_empty()).ok_or_else(|| missing(name))
    }
    fn flag(&self, name: &str, default: bool) -> ClinchResult<bool> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) => {
                parse_flag(s).ok_or_else(|| ClinchError::bad_request(format!("Field '{name}' must be true or false.")))
            }
            Some(_) => Err(ClinchError::bad_request(format!("Field '{name}' must be true or false."))),
        }
    }
}

/// Reads a body of at most `limit` bytes as JSON.
async fn json_body(body: Body, limit: usize) -> ClinchResult<Value> {
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        ClinchError::bad_request(format!("Could not read the request body (at most {limit} bytes): {e}."))
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ClinchError::bad_request("A JSON body is required."));
    }
    serde_json::from_slice(&bytes).map_err(|e| ClinchError::bad_request(format!("Malformed JSON body: {e}.")))
}

/// A JSON object body, keys lowercased.
async fn object_body(body: Body, limit: usize) -> ClinchResult<Fields> {
    match json_body(body, limit).await? {
        Value::Object(map) => Ok(Fields(map.into_iter().map(|(k, v)| (k.to_lowercase(), v)).collect())),
        _ => Err(ClinchError::bad_request("The JSON body must be an object.")),
    }
}

/// A flat JSON object of strings, as metadata.
fn metadata_of(value: &Value) -> ClinchResult<Metadata> {
    let Value::Object(map) = value else {
        return Err(ClinchError::bad_request("Metadata must be a JSON object of strings."));
    };
    map.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            _ => Err(ClinchError::bad_request(format!("Metadata value of '{k}' must be a string."))),
        })
        .collect()
}

fn url_of(state: &AppState, account: AccountId, asset: &Asset) -> String {
    crate::files::public_url(&state.http.public_base_url, account, &asset.key())
}

fn key_and_url(state: &AppState, account: AccountId, asset: &Asset) -> Json {
    axum::Json(json!({ "key": asset.key(), "url": url_of(state, account, asset) }))
}

/// PutAsset: multipart `file`; the key is `key` (full key) or `folder` plus the file's name,
/// from the query or from text fields; neither puts the file at the root. A `.zip` is stored
/// as one file.
async fn put_asset(
    State(state): State<AppState>,
    Path(account): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ClinchResult<Json> {
    let (who, account) = caller(&state, &headers, &account).await?;
    let q = Query::parse(query);
    let mut key = q.get("key").filter(|k| !k.is_empty()).map(str::to_owned);
    let mut folder = q.get("folder").map(str::to_owned);
    let mut form = Multipart::new(&headers, body, state.lib.config().max_upload_size)?;
    let mut received = None;
    while let Some(part) = form.next().await? {
        match part {
            Part::Text { name, value } if name.eq_ignore_ascii_case("key") && key.is_none() && !value.is_empty() => {
                key = Some(value)
            }
            Part::Text { name, value } if name.eq_ignore_ascii_case("folder") && folder.is_none() => {
                folder = Some(value)
            }
            Part::File { field, file_name, body } if field.eq_ignore_ascii_case("file") && received.is_none() => {
                received = Some(match &key {
                    // The target is known: checked before the content is stored.
                    Some(key) => {
                        let k = state.lib.rules().key(key)?;
                        state.lib.receive(&who, account, Some(&k.path), &k.name, body, Zips::Keep).await?
                    }
                    // A `key` field may still follow: the name is checked at commit.
                    None => state.lib.receive_unnamed(&who, account, body).await?.with_name(&file_name),
                });
            }
            Part::File { mut body, .. } => while futures::StreamExt::next(&mut body).await.transpose()?.is_some() {},
            Part::Text { .. } => {}
        }
    }
    let received = received.ok_or_else(|| missing("file"))?;
    let (dir, name) = match &key {
        Some(key) => {
            let k = state.lib.rules().key(key)?;
            (k.path, k.name)
        }
        None => (folder.unwrap_or_default(), received.file_name().to_owned()),
    };
    let outcome = state.lib.commit_upload(received.with_name(&name), &dir).await?;
    let asset = outcome.asset.ok_or_else(|| Error::internal("a single-file upload made no asset"))?;
    Ok(key_and_url(&state, account, &asset))
}

/// PutAssetJSON: `key` and the content as base64 `content` or a `url` to fetch; optional
/// `metadata`.
async fn put_asset_json(
    State(state): State<AppState>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ClinchResult<Json> {
    let (who, account) = caller(&state, &headers, &account).await?;
    // Base64 takes 4 bytes per 3; the rest is slack for the key and metadata.
    let limit = (state.lib.config().max_upload_size as usize / 3 + 1) * 4 + SMALL_BODY;
    let fields = object_body(body, limit).await?;
    let key = fields.required_string("key")?;
    let metadata = fields.get("metadata").filter(|m| !m.is_null()).map(metadata_of).transpose()?;
    let asset = match (fields.string("content")?, fields.string("url")?) {
        (Some(_), Some(_)) => return Err(ClinchError::bad_request("Give either 'content' or 'url', not both.")),
        (None, None) => return Err(ClinchError::bad_request("Parameter 'content' or 'url' is required.")),
        (Some(content), None) => {
            let bytes = decode_base64(content)?;
            let body = Box::pin(futures::stream::once(async move { Ok(bytes::Bytes::from(bytes)) }));
            state.lib.put_asset(&who, account, key, body, metadata).await?
        }
        (None, Some(url)) => state.lib.put_asset_from_url(&who, account, key, url, metadata).await?,
    };
    Ok(key_and_url(&state, account, &asset))
}

/// Standard base64, padded or not; whitespace (line breaks) is ignored.
fn decode_base64(content: &str) -> ClinchResult<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    let compact: String = content.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let trimmed = compact.trim_end_matches('=');
    STANDARD_NO_PAD
        .decode(trimmed)
        .or_else(|_| STANDARD.decode(&compact))
        .map_err(|e| ClinchError::bad_request(format!("Field 'content' is not valid base64: {e}.")))
}

/// DeleteAsset: `key`.
async fn delete_asset(
    State(state): State<AppState>,
    Path(account): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ClinchResult<Json> {
    let (who, account) = caller(&state, &headers, &account).await?;
    let q = Query::parse(query);
    let key = q.required("key")?;
    state.lib.delete_asset(&who, account, key).await?;
    let key = state.lib.rules().key(key)?.key();
    Ok(axum::Json(json!({ "key": key, "deleted": true })))
}

fn metadata_response(asset: &Asset) -> Json {
    axum::Json(json!({ "key": asset.key(), "metadata": asset.metadata }))
}

/// PutAssetMetadata: `key`; the body, a flat object of strings, replaces the metadata.
async fn put_asset_metadata(
    State(state): State<AppState>,
    Path(account): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ClinchResult<Json> {
    let (who, account) = caller(&state, &headers, &account).await?;
    let q = Query::parse(query);
    let key = q.required("key")?;
    let metadata = metadata_of(&json_body(body, SMALL_BODY).await?)?;
    let asset = state.lib.set_metadata(&who, account, key, metadata).await?;
    Ok(metadata_response(&asset))
}

/// GetAssetMetadata: `key`.
async fn get_asset_metadata(
    State(state): State<AppState>,
    Path(account): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ClinchResult<Json> {
    let (who, account) = caller(&state, &headers, &account).await?;
    let q = Query::parse(query);
    let asset = state.lib.find_asset(&who, account, q.required("key")?).await?;
    Ok(metadata_response(&asset))
}

/// PutFolder: `folder`; 400 if it exists.
async fn put_folder(
    State(state): State<AppState>,
    Path(account): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ClinchResult<Json> {
    let (who, account) = caller(&state, &headers, &account).await?;
    let q = Query::parse(query);
    let folder = state.lib.create_folder(&who, account, q.required("folder")?).await?;
    Ok(axum::Json(json!({ "folder": folder })))
}

/// DeleteFolder: `folder`, `deleteAssets` (default true: everything below goes too).
async fn delete_folder(
    State(state): State<AppState>,
    Path(account): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ClinchResult<Json> {
    let (who, account) = caller(&state, &headers, &account).await?;
    let q = Query::parse(query);
    let folder = q.required("folder")?;
    let with_assets = q.flag("deleteAssets", true)?;
    let n = state.lib.remove_folder(&who, account, folder, with_assets).await?;
    let folder = state.lib.rules().folder(folder)?;
    Ok(axum::Json(json!({ "folder": folder, "deleted": true, "assetsDeleted": n })))
}

/// GetSubFoldersList: `folder` (empty or absent: the root).
async fn get_subfolders_list(
    State(state): State<AppState>,
    Path(account): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ClinchResult<Json> {
    let (who, account) = caller(&state, &headers, &account).await?;
    let q = Query::parse(query);
    let folder = q.get("folder").unwrap_or("");
    let names = state.lib.subfolders(&who, account, folder).await?;
    let folder = state.lib.rules().folder(folder)?;
    Ok(axum::Json(json!({ "folder": folder, "subFolders": names })))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListedAsset {
    key: String,
    url: String,
    size: u64,
    last_modified: String,
    content_type: String,
}

/// GetAssetList: `folder`, `recursive`, `pageSize`, `nextToken`.
async fn get_asset_list(
    State(state): State<AppState>,
    Path(account): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ClinchResult<Json> {
    let (who, account) = caller(&state, &headers, &account).await?;
    let q = Query::parse(query);
    let page_size = match q.get("pageSize") {
        None | Some("") => DEFAULT_PAGE_SIZE,
        Some(raw) => raw.parse::<usize>().ok().filter(|n| (1..=MAX_PAGE_SIZE).contains(n)).ok_or_else(|| {
            ClinchError::bad_request(format!(
                "Invalid pageSize '{raw}': it must be an integer from 1 to {MAX_PAGE_SIZE}."
            ))
        })?,
    };
    let recursive = q.flag("recursive", false)?;
    let token = q.get("nextToken").filter(|t| !t.is_empty());
    let folder = q.get("folder").unwrap_or("");
    let page = state.lib.list_assets(&who, account, folder, recursive, token, page_size).await?;
    let assets: Vec<ListedAsset> = page
        .assets
        .iter()
        .map(|a| ListedAsset {
            key: a.key(),
            url: url_of(&state, account, a),
            size: a.size,
            last_modified: super::iso_seconds(a.last_modified),
            content_type: a.content_type.clone(),
        })
        .collect();
    Ok(axum::Json(json!({ "assets": assets, "nextToken": page.next })))
}

/// CopyAsset: `sourceKey`, `destinationKey`, `overwrite` (default false).
async fn copy_asset(
    state: State<AppState>,
    account: Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ClinchResult<Json> {
    copy_or_move(state, account, headers, body, false).await
}

/// MoveAsset: as CopyAsset, then DeleteAsset of the source.
async fn move_assets(
    state: State<AppState>,
    account: Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ClinchResult<Json> {
    copy_or_move(state, account, headers, body, true).await
}

async fn copy_or_move(
    State(state): State<AppState>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Body,
    remove_source: bool,
) -> ClinchResult<Json> {
    let (who, account) = caller(&state, &headers, &account).await?;
    let fields = object_body(body, SMALL_BODY).await?;
    let source = fields.required_string("sourceKey")?;
    let destination = fields.required_string("destinationKey")?;
    let overwrite = fields.flag("overwrite", false)?;
    let asset = if remove_source {
        state.lib.move_asset(&who, account, source, destination, overwrite).await?
    } else {
        state.lib.copy_asset(&who, account, source, destination, overwrite).await?
    };
    Ok(key_and_url(&state, account, &asset))
}

/// DeleteMultipleAssets: `{"keys": [...]}`; per-key results.
async fn delete_multiple_assets(
    State(state): State<AppState>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ClinchResult<Json> {
    let (who, account) = caller(&state, &headers, &account).await?;
    let fields = object_body(body, SMALL_BODY).await?;
    let keys: Vec<String> = match fields.get("keys") {
        None | Some(Value::Null) => return Err(missing("keys")),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| ClinchError::bad_request("Field 'keys' must be an array of strings."))?,
        Some(_) => return Err(ClinchError::bad_request("Field 'keys' must be an array of strings.")),
    };
    if keys.is_empty() {
        return Err(missing("keys"));
    }
    let results = state.lib.delete_assets(&who, account, &keys).await?;
    let mut deleted = vec![];
    let mut failed = vec![];
    for (key, result) in results {
        match result {
            Ok(()) => deleted.push(key),
            Err(e) => failed.push(json!({ "key": key, "error": e.message })),
        }
    }
    Ok(axum::Json(json!({ "deleted": deleted, "failed": failed })))
}
