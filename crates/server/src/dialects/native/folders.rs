//! The native folder routes: one level of the tree, explicit folders and folder deletes, and
//! the status of an upload.

use super::{NativeResult, Problem, asset_json, caller, limit_param, query_params, read_json};
use crate::AppState;
use assetlib_core::auth::Access;
use assetlib_core::model::Entry;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// `GET /accounts/{a}/tree?path=&cursor=&limit=`: one folder level, folders and assets
/// together in name order. A folder that does not exist is 404.
pub(super) async fn tree(
    State(state): State<AppState>,
    Path(a): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Read).await?;
    let (mut path, mut cursor, mut limit) = (String::new(), None, super::DEFAULT_LIMIT);
    for (name, value) in query_params(raw.as_deref())? {
        match name.as_str() {
            "path" => path = value,
            "cursor" => cursor = Some(value),
            "limit" => limit = limit_param(&value)?,
            other => return Err(Problem::invalid(other, format!("Unknown parameter '{other}'."))),
        }
    }
    let listing = state.lib.tree(&who, account, &path, cursor.as_deref(), limit).await.map_err(|e| match e.code {
        assetlib_core::Code::CursorInvalid => Problem::invalid("cursor", "Invalid cursor."),
        _ => Problem::from(e).param_if_invalid("path"),
    })?;
    let entries: Vec<_> = listing
        .entries
        .iter()
        .map(|e| match e {
            Entry::Folder(name) => json!({
                "type": "folder",
                "name": name,
                "path": assetlib_core::rules::join(&listing.folder, name),
            }),
            Entry::File(asset) => json!({ "type": "asset", "asset": asset_json(&state, asset, &who.user) }),
        })
        .collect();
    Ok(axum::Json(json!({ "path": listing.folder, "entries": entries, "nextCursor": listing.next })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FolderBody {
    path: String,
}

/// `POST /accounts/{a}/folders` `{path}`: 201 `{path}`; 409 if it exists.
pub(super) async fn create_folder(
    State(state): State<AppState>,
    Path(a): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Write).await?;
    let req: FolderBody = read_json(&headers, body).await?;
    let path = state
        .lib
        .create_folder(&who, account, &req.path)
        .await
        .map_err(|e| Problem::from(e).param_if_invalid("path"))?;
    Ok((StatusCode::CREATED, axum::Json(json!({ "path": path }))).into_response())
}

/// `DELETE /accounts/{a}/folders?path=&recursive=`: 204; 409 if it holds anything and
/// `recursive` is not `true`; 404 if it does not exist.
pub(super) async fn delete_folder(
    State(state): State<AppState>,
    Path(a): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Write).await?;
    let (mut path, mut recursive) = (None, false);
    for (name, value) in query_params(raw.as_deref())? {
        match name.as_str() {
            "path" => path = Some(value),
            "recursive" => recursive = super::flag("recursive", &value)?,
            other => return Err(Problem::invalid(other, format!("Unknown parameter '{other}'."))),
        }
    }
    let path = path.filter(|p| !p.is_empty()).ok_or_else(|| Problem::invalid("path", "path is required."))?;
    state
        .lib
        .remove_folder(&who, account, &path, recursive)
        .await
        .map_err(|e| Problem::from(e).param_if_invalid("path"))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /accounts/{a}/uploads/{queueId}`: the status of an upload; another account's is 404.
pub(super) async fn upload_status(
    State(state): State<AppState>,
    Path((a, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Read).await?;
    let not_found =
        || Problem::from(assetlib_core::Error::not_found(assetlib_core::Code::QueueNotFound, "Upload not found."));
    let entry = match state.lib.queue(&who, &id).await {
        Ok(entry) if entry.account == account => entry,
        // Another account's upload is not shown to exist.
        Ok(_) => return Err(not_found()),
        Err(e) if matches!(e.kind, assetlib_core::ErrorKind::Forbidden | assetlib_core::ErrorKind::NotFound) => {
            return Err(not_found());
        }
        Err(e) => return Err(e.into()),
    };
    Ok(axum::Json(super::upload_json(&entry)).into_response())
}
