//! The native folder routes: one level of the tree, explicit folders and folder deletes, and
//! the status of an upload.

use super::{NativeResult, Problem, asset_view, caller, limit_param, query_params, read_json, schema};
use crate::AppState;
use assetlib_core::auth::Access;
use assetlib_core::model::Entry;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// `GET /accounts/{a}/tree?path=&cursor=&limit=`: one folder level, folders and assets
/// together in name order, or with `type=folder` its folders only (a folder tree's level). A
/// folder that does not exist is 404.
#[utoipa::path(get, path = "/api/v1/accounts/{a}/tree", tag = "folders",
    params(("a" = i64, Path, description = "The account id"), ("path" = Option<String>, Query, description = "The folder; the root if absent"),
        ("type" = Option<String>, Query, description = "`folder`: the child folders only"),
        ("limit" = Option<u32>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, description = "One folder level in name order", body = schema::Tree), super::openapi::Problems))]
pub(super) async fn tree(
    State(state): State<AppState>,
    Path(a): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Read).await?;
    let (mut path, mut cursor, mut limit, mut folders_only) = (String::new(), None, super::DEFAULT_LIMIT, false);
    for (name, value) in query_params(raw.as_deref())? {
        match name.as_str() {
            "path" => path = value,
            "type" if value == "folder" => folders_only = true,
            "type" => return Err(Problem::invalid("type", "type must be 'folder'.")),
            "cursor" => cursor = Some(value),
            "limit" => limit = limit_param(&value)?,
            other => return Err(Problem::invalid(other, format!("Unknown parameter '{other}'."))),
        }
    }
    let listing = state.lib.tree(&who, account, &path, cursor.as_deref(), limit, folders_only).await;
    let listing = listing.map_err(|e| match e.code {
        assetlib_core::Code::CursorInvalid => Problem::invalid("cursor", "Invalid cursor."),
        _ => Problem::from(e).param_if_invalid("path"),
    })?;
    let files: Vec<&assetlib_core::model::Asset> = listing
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::File(asset) => Some(asset),
            Entry::Folder(_) => None,
        })
        .collect();
    let renditions = state.lib.renditions_of(&files).await?;
    let entries = listing
        .entries
        .iter()
        .map(|e| match e {
            Entry::Folder(name) => schema::TreeEntry::Folder {
                name: name.clone(),
                path: assetlib_core::rules::join(&listing.folder, name),
            },
            Entry::File(asset) => schema::TreeEntry::Asset {
                asset: Box::new(asset_view(&state, asset, &who.user, renditions.get(&asset.blob))),
            },
        })
        .collect();
    Ok(axum::Json(schema::Tree { path: listing.folder, entries, next_cursor: listing.next }).into_response())
}

/// `POST /accounts/{a}/folders` `{path}`: 201 `{path}`; 409 if it exists.
#[utoipa::path(post, path = "/api/v1/accounts/{a}/folders", tag = "folders", params(("a" = i64, Path, description = "The account id")),
    request_body = schema::FolderRequest,
    responses((status = 201, description = "The new folder", body = schema::Folder), super::openapi::Problems))]
pub(super) async fn create_folder(
    State(state): State<AppState>,
    Path(a): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Write).await?;
    let req: schema::FolderRequest = read_json(&headers, body).await?;
    let path = state
        .lib
        .create_folder(&who, account, &req.path)
        .await
        .map_err(|e| Problem::from(e).param_if_invalid("path"))?;
    Ok((StatusCode::CREATED, axum::Json(schema::Folder { path })).into_response())
}

/// `DELETE /accounts/{a}/folders?path=&recursive=`: 204; 409 if it holds anything and
/// `recursive` is not `true`; 404 if it does not exist.
#[utoipa::path(delete, path = "/api/v1/accounts/{a}/folders", tag = "folders",
    params(("a" = i64, Path, description = "The account id"), ("path" = String, Query), ("recursive" = Option<bool>, Query, description = "With everything in it")),
    responses((status = 204, description = "Deleted"), super::openapi::Problems))]
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
#[utoipa::path(get, path = "/api/v1/accounts/{a}/uploads/{id}", tag = "folders",
    params(("a" = i64, Path, description = "The account id"), ("id" = String, Path, description = "The upload id")),
    responses((status = 200, description = "The upload", body = schema::Upload), super::openapi::Problems))]
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
    Ok(axum::Json(super::upload_view(&entry)).into_response())
}
