//! The native key routes, for an account's owners: list the keys of its members, create one
//! for the caller (its secret shown once, in `key`), revoke one.

use super::{NativeResult, caller, read_json, rfc3339, schema};
use crate::AppState;
use assetlib_core::auth::Access;
use assetlib_core::model::ApiKeyInfo;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

fn key_view(k: &ApiKeyInfo, secret: Option<String>) -> schema::Key {
    schema::Key {
        id: k.id.clone(),
        name: k.name.clone(),
        user_id: k.user.0.clone(),
        read_only: k.read_only,
        created_at: rfc3339(k.created_at),
        last_used_at: k.last_used_at.map(rfc3339),
        key: secret,
    }
}

/// `GET /accounts/{a}/keys?cursor=&limit=`: `{items, nextCursor}`.
#[utoipa::path(get, path = "/api/v1/accounts/{a}/keys", tag = "keys",
    params(("a" = i64, Path, description = "The account id"), ("limit" = Option<u32>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, description = "The keys of the account's members", body = schema::KeyPage), super::openapi::Problems))]
pub(super) async fn list(
    State(state): State<AppState>,
    Path(a): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Manage).await?;
    let (after, limit) = super::id_page_params(raw.as_deref())?;
    let page = state.lib.api_keys(&who, account, after.as_deref(), limit).await?;
    let items = page.items.iter().map(|k| key_view(k, None)).collect();
    let next_cursor = page.next.as_deref().map(super::id_cursor);
    Ok(axum::Json(schema::KeyPage { items, next_cursor }).into_response())
}

/// `POST /accounts/{a}/keys` `{name, readOnly}`: 201 with the key and, once, its secret.
#[utoipa::path(post, path = "/api/v1/accounts/{a}/keys", tag = "keys", params(("a" = i64, Path, description = "The account id")),
    request_body = schema::KeyRequest,
    responses((status = 201, description = "The new key, with its secret in `key` (shown once)", body = schema::Key), super::openapi::Problems))]
pub(super) async fn create(
    State(state): State<AppState>,
    Path(a): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Manage).await?;
    let req: schema::KeyRequest = read_json(&headers, body).await?;
    let (info, secret) = state.lib.create_key(&who, account, &req.name, req.read_only).await?;
    Ok((StatusCode::CREATED, axum::Json(key_view(&info, Some(secret)))).into_response())
}

/// `DELETE /accounts/{a}/keys/{id}`: 204; the key stops working.
#[utoipa::path(delete, path = "/api/v1/accounts/{a}/keys/{id}", tag = "keys",
    params(("a" = i64, Path, description = "The account id"), ("id" = String, Path, description = "The key id")),
    responses((status = 204, description = "Revoked"), super::openapi::Problems))]
pub(super) async fn delete(
    State(state): State<AppState>,
    Path((a, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Manage).await?;
    state.lib.revoke_key(&who, account, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
