//! The Jivox Asset Library API (v2): listing, upload, queue status and deletes, authenticated
//! by the `jvx_apikey` header, errors as `{"msg": "..."}`.

use crate::AppState;
use crate::multipart::{Multipart, Part};
use assetlib_core::auth::{Access, Principal};
use assetlib_core::library::ingest::too_large_error;
use assetlib_core::library::uploads::Zips;
use assetlib_core::model::{Entry, QueueEntry};
use assetlib_core::size::human_size;
use assetlib_core::{AccountId, Error};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v2/accounts/{account_id}/asset-library",
            get(get_assets).post(upload_file_or_zip).delete(delete_assets_or_folders),
        )
        .route("/v2/queues/{queue_id}/status", get(get_upload_detailed_status))
        .route("/v2/queues/{queue_id}", get(get_upload_status))
}

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// A Jivox error: a status and `{"msg": "..."}`.
#[derive(Debug)]
pub struct JivoxError(StatusCode, String, Option<u64>);

#[derive(Serialize)]
struct Msg<'a> {
    msg: &'a str,
}

impl JivoxError {
    fn bad_request(msg: impl Into<String>) -> Self {
        Self(StatusCode::BAD_REQUEST, msg.into(), None)
    }
}

impl From<Error> for JivoxError {
    fn from(e: Error) -> Self {
        Self(super::status_of(e.kind), e.message, e.retry_after)
    }
}

impl IntoResponse for JivoxError {
    fn into_response(self) -> Response {
        let mut response = (self.0, axum::Json(Msg { msg: &self.1 })).into_response();
        super::set_retry_after(&mut response, self.2);
        response
    }
}

type JivoxResult<T> = Result<T, JivoxError>;

async fn principal(state: &AppState, headers: &HeaderMap) -> JivoxResult<Principal> {
    let Some(key) = super::credential(headers, "jvx_apikey")? else {
        return Err(JivoxError(
            StatusCode::UNAUTHORIZED,
            "Missing API key: send it in the jvx_apikey header.".into(),
            None,
        ));
    };
    Ok(state.lib.authenticate(key).await?)
}

/// The caller, with `access` to the account of the path checked before any parameter or body
/// is read: another account's key gets 403, and a viewer's write 403, whatever else they sent.
async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    account: &str,
    access: Access,
) -> JivoxResult<(Principal, AccountId)> {
    let who = principal(state, headers).await?;
    let account = account_id(account)?;
    state.lib.authorize(&who, account, access).await?;
    Ok((who, account))
}

fn account_id(raw: &str) -> JivoxResult<AccountId> {
    super::parse_account_id(raw)
        .ok_or_else(|| JivoxError::bad_request(format!("Invalid accountId '{raw}': it must be a positive integer.")))
}

/// Query parameters, decoded; a repeated parameter keeps its first value.
fn query_params(raw: Option<String>) -> JivoxResult<HashMap<String, String>> {
    let mut map = HashMap::new();
    for (k, v) in super::query_pairs(raw.as_deref().unwrap_or("").as_bytes())? {
        map.entry(k).or_insert(v);
    }
    Ok(map)
}

#[derive(Serialize)]
struct FileItem {
    #[serde(rename = "cdnUrl")]
    cdn_url: String,
    date: String,
    name: String,
    size: String,
}

#[derive(Serialize)]
struct GetAssetsResponse {
    files: Vec<FileItem>,
    folders: Vec<String>,
    #[serde(rename = "nextKey")]
    next_key: Option<String>,
    path: String,
}

/// Get Assets: one level under `prefix`, files and folders merged in name order.
async fn get_assets(
    State(state): State<AppState>,
    Path(account): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> JivoxResult<axum::Json<GetAssetsResponse>> {
    let (who, account) = caller(&state, &headers, &account, Access::Read).await?;
    let q = query_params(query)?;
    let limit = match q.get("limit").map(String::as_str) {
        None | Some("") => DEFAULT_LIMIT,
        Some(raw) => raw.parse::<usize>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
            JivoxError::bad_request(format!("Invalid limit '{raw}': it must be an integer from 1 to {MAX_LIMIT}."))
        })?,
    };
    let prefix = q.get("prefix").map_or("", String::as_str);
    let cursor = q.get("nextKey").map(String::as_str).filter(|c| !c.is_empty());
    let listing = state.lib.list_folder(&who, account, prefix, cursor, limit).await?;
    let mut files = Vec::new();
    let mut folders = Vec::new();
    for entry in listing.entries {
        match entry {
            Entry::Folder(name) => folders.push(name),
            Entry::File(asset) => files.push(FileItem {
                cdn_url: crate::files::public_url(&state.http.public_base_url, account, &asset.key()),
                date: super::iso_seconds(asset.last_modified),
                name: asset.name,
                size: human_size(asset.size),
            }),
        }
    }
    Ok(axum::Json(GetAssetsResponse { files, folders, next_key: listing.next, path: listing.folder }))
}

#[derive(Serialize)]
struct UploadResponse {
    #[serde(rename = "queueId")]
    queue_id: String,
}

/// Upload File/Zip: multipart `file` (only the first file is used) and optional `path`.
async fn upload_file_or_zip(
    State(state): State<AppState>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> JivoxResult<axum::Json<UploadResponse>> {
    let (who, account) = caller(&state, &headers, &account, Access::Write).await?;
    let max = state.lib.config().max_upload_size;
    super::check_declared_length(&headers, Multipart::body_limit(max), || too_large_error(max))?;
    let mut form = Multipart::new(&headers, body, max)?;
    let mut path: Option<String> = None;
    let mut received = None;
    while let Some(part) = form.next().await? {
        match part {
            Part::Text { name, value } if name == "path" && path.is_none() => path = Some(value),
            Part::File { field, file_name, body } if field == "file" && received.is_none() => {
                received =
                    Some(state.lib.receive(&who, account, path.as_deref(), &file_name, body, Zips::Expand).await?);
            }
            // Further files are read past and ignored, as the seed says.
            Part::File { mut body, .. } => while futures::StreamExt::next(&mut body).await.transpose()?.is_some() {},
            Part::Text { .. } => {}
        }
    }
    let Some(received) = received else {
        return Err(JivoxError::bad_request("Parameter 'file' is required."));
    };
    let outcome = state.lib.commit_upload(received, path.as_deref().unwrap_or("")).await?;
    Ok(axum::Json(UploadResponse { queue_id: outcome.queue.id.0 }))
}

#[derive(Serialize)]
struct DetailedStatus {
    id: String,
    message: String,
    status: &'static str,
    #[serde(rename = "totalItems")]
    total_items: u64,
    #[serde(rename = "totalProcessed")]
    total_processed: u64,
}

#[derive(Serialize)]
struct Status {
    message: String,
    status: &'static str,
}

async fn queue(state: &AppState, headers: &HeaderMap, id: &str) -> JivoxResult<QueueEntry> {
    let who = principal(state, headers).await?;
    Ok(state.lib.queue(&who, id).await?)
}

/// Get Upload Detailed Status.
async fn get_upload_detailed_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> JivoxResult<axum::Json<DetailedStatus>> {
    let q = queue(&state, &headers, &id).await?;
    Ok(axum::Json(DetailedStatus {
        id: q.id.0,
        message: q.message,
        status: q.status.as_str(),
        total_items: q.total_items,
        total_processed: q.total_processed,
    }))
}

/// Get Upload Status.
async fn get_upload_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> JivoxResult<axum::Json<Status>> {
    let q = queue(&state, &headers, &id).await?;
    Ok(axum::Json(Status { message: q.message, status: q.status.as_str() }))
}

/// Delete Assets/Asset Folders: `command=deleteFile&file=&path=` or `command=deleteFolder&path=`.
async fn delete_assets_or_folders(
    State(state): State<AppState>,
    Path(account): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> JivoxResult<axum::Json<Msg<'static>>> {
    let (who, account) = caller(&state, &headers, &account, Access::Write).await?;
    let q = query_params(query)?;
    let path = q.get("path").map_or("", String::as_str);
    match q.get("command").map(String::as_str) {
        Some("deleteFile") => {
            let file = q.get("file").map(String::as_str).filter(|f| !f.is_empty());
            let file = file.ok_or_else(|| JivoxError::bad_request("Parameter 'file' is required."))?;
            state.lib.delete_file(&who, account, path, file).await?;
        }
        Some("deleteFolder") => {
            if path.is_empty() {
                return Err(JivoxError::bad_request("Parameter 'path' is required."));
            }
            state.lib.delete_folder(&who, account, path).await?;
        }
        None | Some("") => return Err(JivoxError::bad_request("Parameter 'command' is required.")),
        Some(other) => {
            return Err(JivoxError::bad_request(format!(
                "Invalid command '{other}'. Allowed: deleteFile, deleteFolder."
            )));
        }
    }
    Ok(axum::Json(Msg { msg: "Deleted successfully" }))
}
