//! Web UI sessions (SPEC 8): `POST /api/v1/session {key}` signs in and sets the HttpOnly,
//! SameSite=Strict cookie `assetlib_session`, which every `/api/v1` route then accepts as it
//! accepts `Authorization: Bearer KEY` (a request with both acts as the header's key);
//! `GET` tells the session (and its CSRF token again, for a page that was reloaded); `DELETE`
//! ends it on the server. A state-changing request (anything but GET, HEAD, OPTIONS) that
//! authenticates by the cookie needs the session's CSRF token in `X-CSRF-Token`, or an `Origin`
//! of the server's own host; else 403 `csrf_refused` and nothing happens ([`guard`]).

use super::{NativeResult, Problem, openapi, read_json, rfc3339, schema};
use crate::AppState;
use assetlib_core::{Code, Error};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The session cookie's name.
pub const COOKIE: &str = "assetlib_session";
/// The header that carries a session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The secret of the request's session cookie, if it sends one.
pub fn secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .flatten()
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_owned())
}

/// Whether the request's `Origin` is the server's own host (the `Host` it was sent to).
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let (Some(origin), Some(host)) = (text(header::ORIGIN), text(header::HOST)) else { return false };
    let Some((_scheme, origin_host)) = origin.split_once("://") else { return false };
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

fn csrf_refused() -> Error {
    Error::new(
        assetlib_core::ErrorKind::Forbidden,
        Code::CsrfRefused,
        "A state-changing request signed in by the session cookie needs the session's X-CSRF-Token header.",
    )
}

/// Refuses a state-changing request that authenticates by the session cookie without the
/// session's CSRF token or a same-origin `Origin`: what a page of another site could send.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe
        && !headers.contains_key(header::AUTHORIZATION)
        && let Some(secret) = secret(headers)
    {
        let token = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !token.is_some_and(|t| state.lib.csrf_ok(&secret, t)) && !same_origin(headers) {
            return Problem::from(csrf_refused()).into_response();
        }
    }
    next.run(request).await
}

/// `Set-Cookie` for `value`, living `max_age` seconds (0 removes it). `Secure` when the
/// server's public address is HTTPS.
fn set_cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let cookie = cookie::Cookie::build((COOKIE, value.to_owned()))
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .path("/")
        .secure(state.http.public_base_url.starts_with("https://"))
        .max_age(cookie::time::Duration::seconds(max_age))
        .build();
    HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn session_body(state: &AppState, secret: &str, me: schema::Me, ends: i64) -> schema::Session {
    schema::Session {
        csrf_token: state.lib.csrf_token(secret),
        expires_at: rfc3339(ends),
        user: me.user,
        accounts: me.accounts,
    }
}

#[utoipa::path(post, path = "/api/v1/session", tag = "identity", request_body = schema::SessionBody,
    security(()),
    responses((status = 201, description = "Signed in: the session cookie is set (HttpOnly, SameSite=Strict)", body = schema::Session),
        openapi::Problems))]
pub(super) async fn sign_in(State(state): State<AppState>, headers: HeaderMap, body: Body) -> NativeResult<Response> {
    let body: schema::SessionBody = read_json(&headers, body).await?;
    if body.key.is_empty() || body.key.len() > 256 {
        return Err(Error::unauthenticated("Invalid API key.").into());
    }
    let session = state.lib.sign_in(&body.key).await?;
    let me = super::me_of(&state, &session.principal).await;
    let answer = session_body(&state, &session.secret, me, session.expires_at);
    // In whole seconds, rounded up: the session's own lifetime as configured.
    let max_age = (session.expires_at - assetlib_core::model::now_millis() + 999) / 1000;
    let mut response = (StatusCode::CREATED, axum::Json(answer)).into_response();
    response.headers_mut().insert(header::SET_COOKIE, set_cookie(&state, &session.secret, max_age));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[utoipa::path(get, path = "/api/v1/session", tag = "identity",
    security(()),
    responses((status = 200, description = "The session of the request's cookie", body = schema::Session),
        openapi::Problems))]
pub(super) async fn get_session(State(state): State<AppState>, headers: HeaderMap) -> NativeResult<Response> {
    let Some(secret) = secret(&headers) else {
        return Err(Error::unauthenticated("No session: sign in with POST /api/v1/session.").into());
    };
    let (who, ends) = state.lib.session_principal(&secret).await?;
    let me = super::me_of(&state, &who).await;
    let mut response = axum::Json(session_body(&state, &secret, me, ends)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[utoipa::path(delete, path = "/api/v1/session", tag = "identity",
    security(()),
    responses((status = 204, description = "Signed out: the session has ended and its cookie is removed"),
        openapi::Problems))]
pub(super) async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> NativeResult<Response> {
    if let Some(secret) = secret(&headers) {
        state.lib.sign_out(&secret).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, set_cookie(&state, "", 0));
    Ok(response)
}
