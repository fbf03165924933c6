//! The native routes that move content: upload (multipart or a raw body, a zip expanded as a
//! job), content (the bytes of a version, with ranges and validators), copy, delete and
//! batch delete.

use super::schema;
use super::{NativeResult, Problem, asset_json, caller, query_params, read_json, with_etag};
use crate::AppState;
use crate::multipart::{Multipart, Part, raw_stream};
use assetlib_core::auth::Access;
use assetlib_core::library::ingest::too_large_error;
use assetlib_core::library::uploads::{UploadOutcome, Zips};
use assetlib_core::model::ORIGINAL;
use assetlib_core::{AssetId, Code, Error};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Whether the request body is `multipart/form-data`.
fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// `POST /accounts/{a}/assets`: multipart `file` and an optional `path` (the folder), or the
/// file as the raw body with `?key=path/name.ext`. 201 with the new asset, 200 when it replaced
/// one, 202 `{upload}` for a zip, which is expanded into the folder by a job.
#[utoipa::path(post, path = "/api/v1/accounts/{a}/assets", tag = "assets",
    params(("a" = i64, Path, description = "The account id"), ("key" = Option<String>, Query, description = "`path/name.ext` of a raw-body upload")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The file as the raw body with `?key=`, or `multipart/form-data` with `file` and an optional `path` (the folder)"),
    responses(
        (status = 201, description = "The new asset", body = schema::Asset),
        (status = 200, description = "The asset it replaced, changed", body = schema::Asset),
        (status = 202, description = "A zip, expanded by a job", body = schema::UploadAccepted),
        super::openapi::Problems))]
pub(super) async fn upload(
    State(state): State<AppState>,
    Path(a): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Write).await?;
    let mut key = None;
    for (name, value) in query_params(raw.as_deref())? {
        match name.as_str() {
            "key" => key = Some(value),
            other => return Err(Problem::invalid(other, format!("Unknown parameter '{other}'."))),
        }
    }
    let max = state.lib.config().max_upload_size;
    let outcome = if is_multipart(&headers) {
        if key.is_some() {
            return Err(Problem::invalid(
                "key",
                "A multipart upload names its folder in the `path` field, not in ?key=.",
            ));
        }
        super::super::check_declared_length(&headers, Multipart::body_limit(max), || too_large_error(max))?;
        let mut form = Multipart::new(&headers, body, max)?;
        let mut path: Option<String> = None;
        let mut received = None;
        while let Some(part) = form.next().await? {
            match part {
                Part::Text { name, value } if name == "path" && path.is_none() && received.is_none() => {
                    path = Some(value);
                }
                Part::Text { name, .. } if name == "path" => {
                    return Err(Problem::body("Send `path` once, before `file`.", Some("path".into())));
                }
                Part::File { field, file_name, body } if field == "file" && received.is_none() => {
                    let r = state.lib.receive(&who, account, path.as_deref(), &file_name, body, Zips::Expand);
                    received = Some(r.await?);
                }
                Part::File { field, .. } | Part::Text { name: field, .. } => {
                    if let Some(r) = received.take() {
                        state.lib.discard(r).await;
                    }
                    return Err(Problem::body(
                        format!("Unexpected field '{field}': send one `file` and an optional `path`."),
                        Some(field),
                    ));
                }
            }
        }
        let Some(received) = received else {
            return Err(Problem::body("The field `file` is required.", Some("file".into())));
        };
        state.lib.commit_upload(received, path.as_deref().unwrap_or("")).await?
    } else {
        let Some(key) = key else {
            return Err(Problem::invalid(
                "key",
                "Send the file as multipart `file`, or as the body with ?key=path/name.ext.",
            ));
        };
        super::super::check_declared_length(&headers, max, || too_large_error(max))?;
        let k = state.lib.rules().key(&key).map_err(|e| Problem::from(e).param_if_invalid("key"))?;
        let received = state.lib.receive(&who, account, Some(&k.path), &k.name, raw_stream(body), Zips::Expand).await?;
        state.lib.commit_upload(received, &k.path).await?
    };
    uploaded(&state, &who.user, outcome).await
}

async fn uploaded(state: &AppState, who: &assetlib_core::UserId, outcome: UploadOutcome) -> NativeResult<Response> {
    match outcome.asset {
        Some(asset) => {
            let status = if outcome.replaced { StatusCode::OK } else { StatusCode::CREATED };
            let mut response = with_etag(&asset, asset_json(state, &asset, who).await?);
            *response.status_mut() = status;
            Ok(response)
        }
        None => {
            let upload = super::upload_view(&outcome.queue);
            Ok((StatusCode::ACCEPTED, axum::Json(schema::UploadAccepted { upload })).into_response())
        }
    }
}

/// `GET|HEAD /accounts/{a}/assets/{id}/content?version=`: the bytes, with `Range`, `ETag`
/// and 304 as public files answer, whatever the account's public flag or the asset's marks.
#[utoipa::path(get, path = "/api/v1/accounts/{a}/assets/{id}/content", tag = "assets",
    params(("a" = i64, Path, description = "The account id"), ("id" = String, Path, description = "The asset id"), ("version" = Option<String>, Query, description = "`original` (default), `thumbnail` or `web` once made"),
        ("Range" = Option<String>, Header), ("If-None-Match" = Option<String>, Header)),
    responses(
        (status = 200, description = "The bytes", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "A range of them"),
        (status = 304, description = "Not modified"),
        super::openapi::Problems))]
pub(super) async fn content(
    State(state): State<AppState>,
    Path((a, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    method: Method,
    headers: HeaderMap,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Read).await?;
    let mut version = ORIGINAL.to_owned();
    for (name, value) in query_params(raw.as_deref())? {
        match name.as_str() {
            "version" => version = value,
            other => return Err(Problem::invalid(other, format!("Unknown parameter '{other}'."))),
        }
    }
    let asset = state.lib.asset_in(&who, account, &AssetId(id)).await?;
    let no_version =
        || Error::not_found(Code::FileNotFound, format!("The asset has no version '{version}'.")).with_param("version");
    let rendition = state.lib.version_of(&asset, &version, no_version).await?;
    let response =
        crate::files::serve(&state, &asset, rendition.as_ref(), &method, &headers, "private, no-cache", None).await;
    if method == Method::GET && is_download(&response) {
        state.lib.count_download(&asset.id);
    }
    Ok(response)
}

/// Whether an answer of the content route is a download: the whole file, or a range from its
/// first byte (where a player's or a resumed download starts). Revalidations (304), refusals
/// and later ranges are not, so that a video played in pieces counts once.
fn is_download(response: &Response) -> bool {
    match response.status() {
        StatusCode::OK => true,
        StatusCode::PARTIAL_CONTENT => response
            .headers()
            .get(header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("bytes 0-")),
        _ => false,
    }
}

/// `POST /accounts/{a}/assets/{id}/copy`: 201 with the copy (200 if it replaced an asset).
#[utoipa::path(post, path = "/api/v1/accounts/{a}/assets/{id}/copy", tag = "assets", params(("a" = i64, Path, description = "The account id"), ("id" = String, Path, description = "The asset id")),
    request_body = schema::CopyRequest,
    responses(
        (status = 201, description = "The copy (it shares the stored content)", body = schema::Asset),
        (status = 200, description = "The copy, which replaced an asset", body = schema::Asset),
        super::openapi::Problems))]
pub(super) async fn copy(
    State(state): State<AppState>,
    Path((a, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Write).await?;
    let req: schema::CopyRequest = read_json(&headers, body).await?;
    let (copy, replaced) = state
        .lib
        .copy_asset_by_id(&who, account, &AssetId(id), &req.destination_key, req.overwrite)
        .await
        .map_err(|e| Problem::from(e).param_if_invalid("destinationKey"))?;
    let mut response = with_etag(&copy, asset_json(&state, &copy, &who.user).await?);
    *response.status_mut() = if replaced { StatusCode::OK } else { StatusCode::CREATED };
    Ok(response)
}

/// `DELETE /accounts/{a}/assets/{id}`: 204.
#[utoipa::path(delete, path = "/api/v1/accounts/{a}/assets/{id}", tag = "assets", params(("a" = i64, Path, description = "The account id"), ("id" = String, Path, description = "The asset id")),
    responses((status = 204, description = "Deleted"), super::openapi::Problems))]
pub(super) async fn delete(
    State(state): State<AppState>,
    Path((a, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Write).await?;
    state.lib.delete_asset_by_id(&who, account, &AssetId(id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /accounts/{a}/assets/batch-delete`: `{ids}` or `{keys}` (at most 1000), each deleted
/// on its own: `{deleted: [...], failed: [{id or key, code, detail}]}`.
#[utoipa::path(post, path = "/api/v1/accounts/{a}/assets/batch-delete", tag = "assets", params(("a" = i64, Path, description = "The account id")),
    request_body(content = schema::BatchDeleteRequest, description = "`ids` or `keys`, 1 to 1000"),
    responses((status = 200, description = "What was deleted and what was not", body = schema::BatchDeleted), super::openapi::Problems))]
pub(super) async fn batch_delete(
    State(state): State<AppState>,
    Path(a): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Write).await?;
    let req: schema::BatchDeleteRequest = read_json(&headers, body).await?;
    let (field, items) = match (req.ids, req.keys) {
        (Some(ids), None) => ("id", ids),
        (None, Some(keys)) => ("key", keys),
        _ => return Err(Problem::body("Send either `ids` or `keys`.", None)),
    };
    let param = if field == "id" { "ids" } else { "keys" };
    let max = assetlib_core::library::assets::MAX_BULK_KEYS;
    if items.is_empty() || items.len() > max {
        return Err(Problem::body(format!("Send 1 to {max} {param}."), Some(param.into())));
    }
    let mut deleted = vec![];
    let mut failed = vec![];
    for item in items {
        let result = if field == "id" {
            state.lib.delete_asset_by_id(&who, account, &AssetId(item.clone())).await
        } else {
            state.lib.delete_asset(&who, account, &item).await
        };
        match result {
            Ok(()) => deleted.push(item),
            // A store that is down fails the request, not the item.
            Err(e) if matches!(e.kind, assetlib_core::ErrorKind::Unavailable | assetlib_core::ErrorKind::Internal) => {
                return Err(e.into());
            }
            Err(e) => {
                let problem = Problem::from(e);
                let (id, key) = if field == "id" { (Some(item), None) } else { (None, Some(item)) };
                failed.push(schema::BatchFailure { id, key, code: problem.code.to_owned(), detail: problem.detail });
            }
        }
    }
    Ok(axum::Json(schema::BatchDeleted { deleted, failed }).into_response())
}
