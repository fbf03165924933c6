//! The native key routes, for an account's owners: list the keys of its members, create one
//! for the caller (its secret shown once, in `key`), revoke one.

use super::{NativeResult, Problem, caller, limit_param, query_params, read_json, rfc3339};
use crate::AppState;
use assetlib_core::auth::Access;
use assetlib_core::model::ApiKeyInfo;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};

fn key_json(k: &ApiKeyInfo) -> Value {
    json!({
        "id": k.id,
        "name": k.name,
        "userId": k.user,
        "readOnly": k.read_only,
        "createdAt": rfc3339(k.created_at),
        "lastUsedAt": super::time_or_null(k.last_used_at),
    })
}

/// `GET /accounts/{a}/keys?cursor=&limit=`: `{items, nextCursor}`.
pub(super) async fn list(
    State(state): State<AppState>,
    Path(a): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Manage).await?;
    let (mut after, mut limit) = (None, super::DEFAULT_LIMIT);
    for (name, value) in query_params(raw.as_deref())? {
        match name.as_str() {
            "limit" => limit = limit_param(&value)?,
            "cursor" => {
                let id = URL_SAFE_NO_PAD
                    .decode(&value)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| Problem::invalid("cursor", "Invalid cursor."))?;
                after = Some(id);
            }
            other => return Err(Problem::invalid(other, format!("Unknown parameter '{other}'."))),
        }
    }
    let page = state.lib.api_keys(&who, account, after.as_deref(), limit).await?;
    let items: Vec<Value> = page.items.iter().map(key_json).collect();
    let next = page.next.map(|id| URL_SAFE_NO_PAD.encode(id.as_bytes()));
    Ok(axum::Json(json!({ "items": items, "nextCursor": next })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct KeyBody {
    name: String,
    #[serde(default)]
    read_only: bool,
}

/// `POST /accounts/{a}/keys` `{name, readOnly}`: 201 with the key and, once, its secret.
pub(super) async fn create(
    State(state): State<AppState>,
    Path(a): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Manage).await?;
    let req: KeyBody = read_json(&headers, body).await?;
    let (info, secret) = state.lib.create_key(&who, account, &req.name, req.read_only).await?;
    let mut body = key_json(&info);
    body["key"] = Value::String(secret);
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// `DELETE /accounts/{a}/keys/{id}`: 204; the key stops working.
pub(super) async fn delete(
    State(state): State<AppState>,
    Path((a, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Manage).await?;
    state.lib.revoke_key(&who, account, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
