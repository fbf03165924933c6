//! The Clinch Assets Library API (`/{AccountId}/Assets/...`, SPEC section 5.3): authenticated
//! by the `X-ApiKey` header, errors as `{"error": "..."}`. Query parameter names and JSON keys
//! are matched case-insensitively.

use crate::AppState;
use crate::multipart::{Multipart, Part};
use crate::streamed_json::{self, StreamedObject};
use assetlib_core::Code;
use assetlib_core::auth::{Access, Principal};
use assetlib_core::library::ingest::too_large_error;
use assetlib_core::library::uploads::Zips;
use assetlib_core::model::{Asset, Metadata};
use assetlib_core::ports::ByteStream;
use assetlib_core::{AccountId, Error, ErrorKind};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
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
const SMALL_BODY: usize = crate::http::JSON_BODY_LIMIT;
/// The code of a body whose declared size is over its limit.
const BODY_TOO_LARGE: Code = Code::DeclaredTooLarge;

/// A Clinch error: a status and `{"error": "..."}`.
#[derive(Debug)]
pub struct ClinchError(StatusCode, String, Option<u64>);

impl ClinchError {
    fn bad_request(msg: impl Into<String>) -> Self {
        Self(StatusCode::BAD_REQUEST, msg.into(), None)
    }
}

impl From<Error> for ClinchError {
    fn from(e: Error) -> Self {
        let status = match e.kind {
            // A body refused before it is read (a declared size over the limit, or a JSON body
            // over 1 MiB) is 413, as every dialect answers it (SPEC 5.7); a file found too large
            // while it streams stays a validation error, as Clinch has it.
            ErrorKind::TooLarge if e.code == BODY_TOO_LARGE || e.code == Code::BodyTooLarge => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            // Validation and missing things are 400, as the seed's notes have them.
            ErrorKind::Invalid | ErrorKind::NotFound | ErrorKind::Conflict | ErrorKind::TooLarge => {
                StatusCode::BAD_REQUEST
            }
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::TimedOut => StatusCode::REQUEST_TIMEOUT,
            ErrorKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self(status, e.message, e.retry_after)
    }
}

impl IntoResponse for ClinchError {
    fn into_response(self) -> Response {
        let mut response = (self.0, axum::Json(json!({ "error": self.1 }))).into_response();
        super::set_retry_after(&mut response, self.2);
        response
    }
}

type ClinchResult<T> = Result<T, ClinchError>;
type Json = axum::Json<Value>;

async fn principal(state: &AppState, headers: &HeaderMap) -> ClinchResult<Principal> {
    let Some(key) = super::credential(headers, "x-apikey")? else {
        return Err(ClinchError(
            StatusCode::UNAUTHORIZED,
            "Missing API key: send it in the X-ApiKey header.".into(),
            None,
        ));
    };
    Ok(state.lib.authenticate(key).await?)
}

fn account_id(raw: &str) -> ClinchResult<AccountId> {
    super::parse_account_id(raw)
        .ok_or_else(|| ClinchError::bad_request(format!("Invalid AccountId '{raw}': it must be a positive integer.")))
}

/// The caller and the account of a request, with the `access` the operation needs checked
/// before any parameter or body is read: another account's key, and a viewer's write, get 403
/// whatever else they sent. Each operation checks its access again in the core.
async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    account: &str,
    access: Access,
) -> ClinchResult<(Principal, AccountId)> {
    let who = principal(state, headers).await?;
    let account = account_id(account)?;
    state.lib.authorize(&who, account, access).await?;
    Ok((who, account))
}

/// A declared body size over `limit` is refused before the body is read.
fn check_declared(headers: &HeaderMap, limit: u64, message: String) -> ClinchResult<()> {
    Ok(super::check_declared_length(headers, limit, || Error::new(ErrorKind::TooLarge, BODY_TOO_LARGE, message))?)
}

/// Query parameters with lowercased names; a repeated parameter keeps its first value.
struct Query(HashMap<String, String>);

impl Query {
    fn parse(raw: Option<String>) -> ClinchResult<Self> {
        let mut map = HashMap::new();
        for (k, v) in super::query_pairs(raw.as_deref().unwrap_or("").as_bytes())? {
            map.entry(k.to_lowercase()).or_insert(v);
        }
        Ok(Self(map))
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

/// Reads a body of at most `limit` bytes as JSON; a larger one is 413.
async fn json_body(headers: &HeaderMap, body: Body, limit: usize) -> ClinchResult<Value> {
    let bytes = super::read_small_body(headers, body, limit).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ClinchError::bad_request("A JSON body is required."));
    }
    serde_json::from_slice(&bytes).map_err(|e| ClinchError::bad_request(format!("Malformed JSON body: {e}.")))
}

/// A JSON object body, keys lowercased.
async fn object_body(headers: &HeaderMap, body: Body, limit: usize) -> ClinchResult<Fields> {
    match json_body(headers, body, limit).await? {
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
    let (who, account) = caller(&state, &headers, &account, Access::Write).await?;
    let max = state.lib.config().max_upload_size;
    check_declared(&headers, Multipart::body_limit(max), too_large_error(max).message)?;
    let q = Query::parse(query)?;
    let mut key = q.get("key").filter(|k| !k.is_empty()).map(str::to_owned);
    let mut folder = q.get("folder").map(str::to_owned);
    let mut form = Multipart::new(&headers, body, max)?;
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
/// `metadata`. The content streams into the blob store as it is decoded, in whatever order the
/// members come; what else the body holds is at most 1 MiB.
async fn put_asset_json(
    State(state): State<AppState>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ClinchResult<Json> {
    let (who, account) = caller(&state, &headers, &account, Access::Write).await?;
    let max = state.lib.config().max_upload_size;
    // Base64 takes 4 bytes per 3; the rest is room for the key and metadata.
    let limit = (max / 3 + 1) * 4 + SMALL_BODY as u64;
    check_declared(&headers, limit, too_large_error(max).message)?;
    let object = read_put_asset_json(&state, &who, account, body).await?;
    let fields = Fields(object.fields);
    let checked = (|| {
        let key = fields.required_string("key")?;
        let metadata = fields.get("metadata").filter(|m| !m.is_null()).map(metadata_of).transpose()?;
        let url = fields.string("url")?;
        let _ = fields.string("content")?; // a content that is not a string
        match (&object.received, url) {
            (Some(_), Some(_)) => Err(ClinchError::bad_request("Give either 'content' or 'url', not both.")),
            (None, None) => Err(ClinchError::bad_request("Parameter 'content' or 'url' is required.")),
            _ => Ok((key, metadata, url)),
        }
    })();
    let (key, metadata, url) = match checked {
        Ok(checked) => checked,
        Err(e) => {
            if let Some(received) = object.received {
                state.lib.discard(received).await;
            }
            return Err(e);
        }
    };
    let asset = match (object.received, url) {
        (Some(received), _) => state.lib.commit_as(received, key, metadata).await?,
        (None, Some(url)) => state.lib.put_asset_from_url(&who, account, key, url, metadata).await?,
        (None, None) => return Err(ClinchError::bad_request("Parameter 'content' or 'url' is required.")),
    };
    Ok(key_and_url(&state, account, &asset))
}

/// Reads a PutAssetJSON body, streaming its `content` into the blob store: under the key when
/// the key came first (checked before anything is stored), else unnamed until the key comes.
async fn read_put_asset_json(
    state: &AppState,
    who: &Principal,
    account: AccountId,
    body: Body,
) -> ClinchResult<StreamedObject> {
    let upload = |fields: Map<String, Value>, content: ByteStream| async move {
        let lib = &state.lib;
        match Fields(fields).string("key").map_err(|e| Error::invalid(Code::FieldInvalid, e.1))? {
            Some(key) if !key.is_empty() => {
                let k = lib.rules().key(key)?;
                lib.receive(who, account, Some(&k.path), &k.name, content, Zips::Keep).await
            }
            _ => lib.receive_unnamed(who, account, content).await,
        }
    };
    let discard = |received| async move { state.lib.discard(received).await };
    Ok(streamed_json::read_object(body, "content", SMALL_BODY as u64, upload, discard).await?)
}

/// The fuzz target's way in: a PutAssetJSON body read as the route reads it, the content
/// drained instead of stored, and the same bytes read as a small JSON body.
pub async fn fuzz_bodies(data: Vec<u8>) {
    let upload = |_fields: Map<String, Value>, mut content: ByteStream| async move {
        while let Some(chunk) = futures::StreamExt::next(&mut content).await {
            chunk?;
        }
        Err::<assetlib_core::library::uploads::Received, _>(Error::invalid(Code::UploadStopped, "drained"))
    };
    let _ = streamed_json::read_object(Body::from(data.clone()), "content", 4096, upload, |_| async {}).await;
    if let Ok(fields) = object_body(&HeaderMap::new(), Body::from(data), SMALL_BODY).await {
        let _ = fields.get("metadata").map(metadata_of);
        let _ = fields.flag("overwrite", false);
        let _ = fields.required_string("sourceKey");
    }
}

/// DeleteAsset: `key`.
async fn delete_asset(
    State(state): State<AppState>,
    Path(account): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ClinchResult<Json> {
    let (who, account) = caller(&state, &headers, &account, Access::Write).await?;
    let q = Query::parse(query)?;
    let key = q.required("key")?;
    state.lib.delete_asset(&who, account, key).await?;
    let key = state.lib.rules().lookup_key(key)?.key();
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
    let (who, account) = caller(&state, &headers, &account, Access::Write).await?;
    let q = Query::parse(query)?;
    let key = q.required("key")?;
    let metadata = metadata_of(&json_body(&headers, body, SMALL_BODY).await?)?;
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
    let (who, account) = caller(&state, &headers, &account, Access::Read).await?;
    let q = Query::parse(query)?;
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
    let (who, account) = caller(&state, &headers, &account, Access::Write).await?;
    let q = Query::parse(query)?;
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
    let (who, account) = caller(&state, &headers, &account, Access::Write).await?;
    let q = Query::parse(query)?;
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
    let (who, account) = caller(&state, &headers, &account, Access::Read).await?;
    let q = Query::parse(query)?;
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
    let (who, account) = caller(&state, &headers, &account, Access::Read).await?;
    let q = Query::parse(query)?;
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
    let (who, account) = caller(&state, &headers, &account, Access::Write).await?;
    let fields = object_body(&headers, body, SMALL_BODY).await?;
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
    let (who, account) = caller(&state, &headers, &account, Access::Write).await?;
    let fields = object_body(&headers, body, SMALL_BODY).await?;
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
