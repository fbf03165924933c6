//! The native API (`/api/v1/...`, SPEC 5.4): `Authorization: Bearer KEY`, JSON bodies that
//! refuse unknown fields, times as RFC 3339 UTC strings, and errors as RFC 9457
//! `application/problem+json` `{type, title, status, detail, code, param?}`. `code` is the
//! SPEC's stable class of the error (`invalid_parameter`, `not_found`, …); `type` names the
//! precise entry of the core's catalogue (`urn:assetlib:problem:asset_not_found`).
//!
//! An account the key does not reach is 404 on every `/accounts/{a}/...` route, and so is
//! another account's asset, collection, upload or key. The routes that move content are in
//! [`files`], the folder routes in [`folders`], key management in [`keys`].

use assetlib_api as schema;

mod files;
mod folders;
mod keys;
pub mod openapi;
pub mod session;

use crate::AppState;
use assetlib_core::auth::{Access, Principal};
use assetlib_core::library::links::LinkTarget;
use assetlib_core::model::{Asset, AssetPatch, Collection, Metadata, ORIGINAL, Renditions};
use assetlib_core::search::{AssetQuery, ContentTypeFilter, Paging, Scope, SearchCursor, Sort};
use assetlib_core::signing::Disposition;
use assetlib_core::{AccountId, AssetId, Code, CollectionId, Error, ErrorKind, UserId};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> Router<AppState> {
    let (router, api) = api_router().split_for_parts();
    router
        .merge(utoipa_swagger_ui::SwaggerUi::new("/api/docs").url("/api/v1/openapi.json", api))
        .route("/api/v1", axum::routing::any(unknown_route))
        .route("/api/v1/{*rest}", axum::routing::any(unknown_route))
}

/// Every route of the native API with its OpenAPI description, from the same annotations.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(get_me))
        .routes(routes!(session::sign_in, session::get_session, session::sign_out))
        .routes(routes!(search_assets, files::upload))
        .routes(routes!(files::batch_delete))
        .routes(routes!(get_asset, patch_asset, files::delete))
        .routes(routes!(files::content))
        .routes(routes!(files::copy))
        .routes(routes!(create_link))
        .routes(routes!(folders::tree))
        .routes(routes!(folders::create_folder, folders::delete_folder))
        .routes(routes!(folders::upload_status))
        .routes(routes!(list_collections, create_collection))
        .routes(routes!(get_collection, patch_collection, delete_collection))
        .routes(routes!(keys::list, keys::create))
        .routes(routes!(keys::delete))
}

/// The OpenAPI document of the native API.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    api_router().split_for_parts().1
}

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// An RFC 9457 problem.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    code: &'static str,
    detail: String,
    kind: &'static str,
    param: Option<String>,
    retry_after: Option<u64>,
}

impl Problem {
    fn invalid(param: &str, detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_parameter",
            detail: detail.into(),
            kind: Code::QueryInvalid.as_str(),
            param: Some(param.to_owned()),
            retry_after: None,
        }
    }

    fn body(detail: impl Into<String>, param: Option<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_body",
            detail: detail.into(),
            kind: Code::BodyInvalid.as_str(),
            param,
            retry_after: None,
        }
    }

    /// Names `param` as the parameter at fault of a 400 or a 409 that names none.
    fn param_if_invalid(mut self, param: &str) -> Self {
        if matches!(self.status, StatusCode::BAD_REQUEST | StatusCode::CONFLICT) && self.param.is_none() {
            self.param = Some(param.to_owned());
        }
        self
    }

    fn not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            detail: "Nothing is here.".into(),
            kind: "route_not_found",
            param: None,
            retry_after: None,
        }
    }
}

impl From<Error> for Problem {
    fn from(e: Error) -> Self {
        let code = match e.kind {
            ErrorKind::Invalid if e.code == Code::BodyInvalid => "invalid_body",
            ErrorKind::Invalid => "invalid_parameter",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::TimedOut => "timed_out",
            ErrorKind::PreconditionFailed => "precondition_failed",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        };
        Self {
            status: super::status_of(e.kind),
            code,
            detail: e.message,
            kind: e.code.as_str(),
            param: e.param,
            retry_after: e.retry_after,
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = schema::Problem {
            kind: format!("urn:assetlib:problem:{}", self.kind),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.to_owned(),
            param: self.param,
        };
        let text = serde_json::to_string(&body).unwrap_or_default();
        let mut response = (self.status, text).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

type NativeResult<T> = Result<T, Problem>;

async fn unknown_route() -> Problem {
    Problem::not_found()
}

/// The caller, from `Authorization: Bearer KEY`, or else from the web UI's session cookie
/// ([`session`]).
async fn principal(state: &AppState, headers: &HeaderMap) -> NativeResult<Principal> {
    let Some(value) = super::credential(headers, "authorization")? else {
        if let Some(secret) = session::secret(headers) {
            return Ok(state.lib.session_principal(&secret).await?.0);
        }
        return Err(Error::unauthenticated("Send your API key as Authorization: Bearer KEY.").into());
    };
    let Some(key) = value.strip_prefix("Bearer ").filter(|k| !k.is_empty()) else {
        return Err(Error::unauthenticated("Send your API key as Authorization: Bearer KEY.").into());
    };
    Ok(state.lib.authenticate(key).await?)
}

/// The caller and the account `{a}`, which the key must reach (else 404: an account the key
/// does not reach is not shown to exist), with `access` checked before anything else is read.
async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    raw: &str,
    access: Access,
) -> NativeResult<(Principal, AccountId)> {
    let who = principal(state, headers).await?;
    let missing = || Problem::from(Error::not_found(Code::AccountNotFound, format!("Account {raw} does not exist.")));
    let account = super::parse_account_id(raw).ok_or_else(missing)?;
    if !who.reaches(account) {
        return Err(missing());
    }
    state.lib.authorize(&who, account, access).await?;
    Ok((who, account))
}

fn rfc3339(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_time(param: &str, raw: &str) -> NativeResult<i64> {
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.timestamp_millis())
        .map_err(|_| Problem::invalid(param, format!("{param} must be an RFC 3339 time, like 2026-01-31T12:00:00Z.")))
}

/// The native shape of an asset, for `who`, with the renditions recorded for its content.
fn asset_view(state: &AppState, asset: &Asset, who: &UserId, renditions: Option<&Renditions>) -> schema::Asset {
    let a = &asset.attributes;
    let time = |t: Option<i64>| t.map(rfc3339);
    let (width, height) = renditions.and_then(|r| r.original).unzip();
    let original = schema::Version { size: asset.size, content_type: asset.content_type.clone(), width, height };
    let mut versions: BTreeMap<String, schema::Version> = [(ORIGINAL.to_owned(), original)].into();
    for r in renditions.map(|r| r.versions.as_slice()).unwrap_or_default() {
        let version = schema::Version {
            size: r.size,
            content_type: r.content_type.clone(),
            width: Some(r.width),
            height: Some(r.height),
        };
        versions.insert(r.version.clone(), version);
    }
    let key = asset.key();
    schema::Asset {
        id: asset.id.0.clone(),
        account_id: asset.account.0,
        url: crate::files::public_url(&state.http.public_base_url, asset.account, &key),
        key,
        path: asset.path.clone(),
        name: asset.name.clone(),
        size: asset.size,
        content_type: asset.content_type.clone(),
        hash: asset.hash.clone(),
        created_at: rfc3339(asset.created_at),
        last_modified: rfc3339(asset.last_modified),
        created_by: asset.created_by.as_ref().map(|u| u.0.clone()),
        tags: a.tags.clone(),
        skus: a.skus.clone(),
        metadata: asset.metadata.clone(),
        collection_ids: a.collection_ids.iter().map(|c| c.0.clone()).collect(),
        batch_id: a.batch_id.clone(),
        approved_at: time(a.approved_at),
        sensitive_at: time(asset.sensitive_at),
        archived_at: time(asset.archived_at),
        expires_at: time(a.expires_at),
        license_expires_at: time(a.license_expires_at),
        favorite: a.favourites.contains(who),
        views: asset.views,
        downloads: asset.downloads,
        versions: versions.into_iter().collect(),
    }
}

/// [`asset_view`] as JSON.
async fn asset_json(state: &AppState, asset: &Asset, who: &UserId) -> NativeResult<Value> {
    let renditions = state.lib.renditions(asset).await?;
    Ok(to_json(&asset_view(state, asset, who, Some(&renditions))))
}

/// [`asset_view`] of each of `assets`, their renditions read in one query.
async fn asset_views(state: &AppState, assets: &[Asset], who: &UserId) -> NativeResult<Vec<schema::Asset>> {
    let refs: Vec<&Asset> = assets.iter().collect();
    let renditions = state.lib.renditions_of(&refs).await?;
    Ok(assets.iter().map(|a| asset_view(state, a, who, renditions.get(&a.blob))).collect())
}

/// A shape as JSON (the shapes have string keys only: this cannot fail).
fn to_json(shape: &impl serde::Serialize) -> Value {
    serde_json::to_value(shape).unwrap_or_default()
}

fn with_etag(asset: &Asset, body: Value) -> Response {
    let mut response = axum::Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&asset.etag()) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// The pairs of a query string, strictly decoded.
fn query_params(raw: Option<&str>) -> NativeResult<Vec<(String, String)>> {
    Ok(super::query_pairs(raw.unwrap_or("").as_bytes())?)
}

/// A `limit` parameter: 1 to [`MAX_LIMIT`].
fn limit_param(v: &str) -> NativeResult<usize> {
    v.parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| Problem::invalid("limit", format!("limit must be 1 to {MAX_LIMIT}.")))
}

/// The parameters of a list paged by the last item's id (collections, keys): `limit` and
/// `cursor`, decoded; any other is refused.
fn id_page_params(raw: Option<&str>) -> NativeResult<(Option<String>, usize)> {
    let (mut after, mut limit) = (None, DEFAULT_LIMIT);
    for (name, v) in query_params(raw)? {
        match name.as_str() {
            "limit" => limit = limit_param(&v)?,
            "cursor" => {
                let id = URL_SAFE_NO_PAD
                    .decode(&v)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| Problem::invalid("cursor", "Invalid cursor."))?;
                after = Some(id);
            }
            other => return Err(Problem::invalid(other, format!("Unknown parameter '{other}'."))),
        }
    }
    Ok((after, limit))
}

/// The cursor of a list paged by id: where the next page starts.
fn id_cursor(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

/// A boolean parameter: `true` or `false`.
fn flag(name: &str, v: &str) -> NativeResult<bool> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Problem::invalid(name, format!("{name} must be true or false."))),
    }
}

/// The native shape of an upload.
fn upload_view(q: &assetlib_core::model::QueueEntry) -> schema::Upload {
    use assetlib_core::model::QueueStatus;
    let status = match q.status {
        QueueStatus::Queued => "queued",
        QueueStatus::Processing => "processing",
        QueueStatus::Completed => "completed",
        QueueStatus::CompletedWithErrors => "completed_with_errors",
        QueueStatus::Failed => "failed",
    };
    schema::Upload {
        id: q.id.0.clone(),
        status: status.to_owned(),
        total_items: q.total_items,
        total_processed: q.total_processed,
        message: q.message.clone(),
        errors: q
            .errors
            .iter()
            .map(|e| schema::UploadError { entry: e.item.clone(), reason: e.error.clone() })
            .collect(),
    }
}

/// Reads a JSON body (at most 1 MiB; more is 413, a stalled one 408) as `T`.
async fn read_json<T: DeserializeOwned>(headers: &HeaderMap, body: Body) -> NativeResult<T> {
    let bytes = super::read_small_body(headers, body, crate::http::JSON_BODY_LIMIT).await?;
    json_body(&bytes)
}

/// A JSON body of type `T`, whose unknown fields are refused: 400 `invalid_body` naming the
/// field at fault when serde can tell.
fn json_body<T: DeserializeOwned>(body: &Bytes) -> NativeResult<T> {
    serde_json::from_slice(body).map_err(|e| {
        let text = e.to_string();
        let param = text.split('`').nth(1).filter(|_| text.starts_with("unknown field")).map(str::to_owned);
        Problem::body(format!("The request body is not valid: {text}."), param)
    })
}

#[utoipa::path(get, path = "/api/v1/me", tag = "identity",
    responses((status = 200, description = "The caller and the accounts its key reaches", body = schema::Me), openapi::Problems))]
async fn get_me(State(state): State<AppState>, headers: HeaderMap) -> NativeResult<Response> {
    let who = principal(&state, &headers).await?;
    Ok(axum::Json(me_of(&state, &who).await).into_response())
}

/// The caller and the accounts its key reaches, with its role in each.
async fn me_of(state: &AppState, who: &Principal) -> schema::Me {
    let mut accounts = vec![];
    for account in who.reachable().unwrap_or_default() {
        let role = who.roles.get(&account).map_or("owner", |r| r.as_str());
        if let Ok(a) = state.lib.authorize(who, account, Access::Read).await {
            accounts.push(schema::MeAccount { id: a.id.0, name: a.name, role: role.to_owned() });
        }
    }
    let user = schema::MeUser { id: who.user.0.clone(), name: who.name.clone(), admin: who.admin };
    schema::Me { user, accounts }
}

/// Parses the search parameters of SPEC 5.4 into a query of `account`. Unknown parameters are
/// refused, naming them.
fn search_query(raw: Option<&str>, account: AccountId, who: &Principal) -> NativeResult<AssetQuery> {
    let pairs = super::query_pairs(raw.unwrap_or("").as_bytes())?;
    let mut q = AssetQuery::new(Scope::Accounts(vec![account]), DEFAULT_LIMIT);
    let mut sort = None;
    let mut cursor = None;
    let bounded = |name: &str, v: &str, max: usize| -> NativeResult<String> {
        if v.is_empty() || v.chars().count() > max {
            return Err(Problem::invalid(name, format!("{name} must be 1 to {max} characters.")));
        }
        Ok(v.to_owned())
    };
    for (name, value) in pairs {
        let v = value.as_str();
        match name.as_str() {
            "q" => q.q = Some(bounded("q", v, 256)?),
            "id" => q.ids.push(AssetId(bounded("id", v, 128)?)),
            "path" => q.path = Some(v.to_owned()),
            "pathPrefix" => q.path_prefix = Some(v.to_owned()),
            "tag" => q.tags.push(bounded("tag", v, 128)?),
            "sku" => q.sku = Some(bounded("sku", v, 128)?),
            "collectionId" => q.collection = Some(CollectionId(bounded("collectionId", v, 128)?)),
            "batchId" => q.batch_id = Some(bounded("batchId", v, 256)?),
            "approved" => q.approved = Some(flag("approved", v)?),
            "sensitive" => q.sensitive = Some(flag("sensitive", v)?),
            "archived" => q.archived = Some(flag("archived", v)?),
            "licenseExpired" => q.license_expired = Some(flag("licenseExpired", v)?),
            "favoriteBy" => {
                let user = if v == "me" { who.user.clone() } else { UserId(bounded("favoriteBy", v, 128)?) };
                q.favourite_of = Some(user);
            }
            "createdMin" => q.created_min = Some(parse_time("createdMin", v)?),
            "createdMax" => q.created_max = Some(parse_time("createdMax", v)?),
            "contentType" => {
                q.content_type = Some(
                    ContentTypeFilter::parse(v)
                        .ok_or_else(|| Problem::invalid("contentType", "contentType is type/subtype or type/*."))?,
                );
            }
            "sort" => sort = Some(Sort::parse(v).ok_or_else(|| Problem::invalid("sort", "Unknown sort."))?),
            "limit" => q.limit = limit_param(v)?,
            "cursor" => cursor = Some(v.to_owned()),
            other => match other.strip_prefix("meta.") {
                Some(key) if !key.is_empty() && key.chars().count() <= 128 => {
                    q.metadata.push((key.to_owned(), v.to_owned()));
                }
                _ => return Err(Problem::invalid(other, format!("Unknown parameter '{other}'."))),
            },
        }
    }
    q.sort = sort.unwrap_or_default();
    if let Some(raw) = cursor {
        q.paging = Paging::After(Some(SearchCursor::decode(&raw, q.sort, "cursor")?));
    }
    Ok(q)
}

#[utoipa::path(get, path = "/api/v1/accounts/{a}/assets", tag = "assets",
    params(("a" = i64, Path, description = "The account id"),
        ("q" = Option<String>, Query, description = "Prefix of a name or a tag, ignoring case"),
        ("id" = Option<Vec<String>>, Query, description = "Asset ids (repeatable)"),
        ("path" = Option<String>, Query, description = "A folder, exactly"),
        ("pathPrefix" = Option<String>, Query, description = "A folder and the folders below it"),
        ("tag" = Option<Vec<String>>, Query, description = "Tags (repeatable: all of them)"),
        ("sku" = Option<String>, Query),
        ("collectionId" = Option<String>, Query),
        ("batchId" = Option<String>, Query),
        ("approved" = Option<bool>, Query),
        ("sensitive" = Option<bool>, Query, description = "Owners only"),
        ("archived" = Option<bool>, Query, description = "Owners only; false unless given"),
        ("licenseExpired" = Option<bool>, Query, description = "Owners only"),
        ("favoriteBy" = Option<String>, Query, description = "`me` or a user id"),
        ("createdMin" = Option<String>, Query, description = "RFC 3339, inclusive"),
        ("createdMax" = Option<String>, Query, description = "RFC 3339, inclusive"),
        ("contentType" = Option<String>, Query, description = "`type/subtype` or `type/*`"),
        ("meta.KEY" = Option<String>, Query, description = "A metadata value of KEY, ignoring case"),
        ("sort" = Option<String>, Query, description = "`-createdAt` (default), `createdAt`, `name`, `-name`, `size`, `-size`, `lastModified`, `-lastModified`"),
        ("limit" = Option<u32>, Query, description = "1 to 1000, default 100"),
        ("cursor" = Option<String>, Query, description = "The `nextCursor` of the page before")),
    responses((status = 200, description = "A page of assets", body = schema::AssetPage), openapi::Problems))]
async fn search_assets(
    State(state): State<AppState>,
    Path(a): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Read).await?;
    let query = search_query(raw.as_deref(), account, &who)?;
    let page = state.lib.search_assets(&who, query).await?;
    let items = asset_views(&state, &page.assets, &who.user).await?;
    Ok(axum::Json(schema::AssetPage { items, next_cursor: page.next.map(|c| c.encode()) }).into_response())
}

#[utoipa::path(get, path = "/api/v1/accounts/{a}/assets/{id}", tag = "assets", params(("a" = i64, Path, description = "The account id"), ("id" = String, Path, description = "The asset id")),
    responses((status = 200, description = "The asset", body = schema::Asset, headers(("ETag" = String))), openapi::Problems))]
async fn get_asset(
    State(state): State<AppState>,
    Path((a, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Read).await?;
    let asset = state.lib.asset_in(&who, account, &AssetId(id)).await?;
    state.lib.count_view(&asset.id);
    Ok(with_etag(&asset, asset_json(&state, &asset, &who.user).await?))
}

/// RFC 7396 on the metadata map, as a patch the store applies under the row lock: `null`
/// empties it (`Some(empty)` to replace with); in an object, `null` removes a key and a string
/// sets it; anything else is refused.
type MetadataChange = (Option<Metadata>, Option<BTreeMap<String, Option<String>>>);

fn metadata_change(patch: Option<Option<Map<String, Value>>>) -> NativeResult<MetadataChange> {
    let Some(patch) = patch else { return Ok((None, None)) };
    let Some(patch) = patch else { return Ok((Some(Metadata::new()), None)) };
    let mut merge = BTreeMap::new();
    for (key, value) in patch {
        let value = match value {
            Value::Null => None,
            Value::String(v) => Some(v),
            _ => {
                return Err(Problem::body(
                    format!("Metadata value of '{key}' must be a string or null."),
                    Some("metadata".into()),
                ));
            }
        };
        merge.insert(key, value);
    }
    Ok((None, Some(merge)))
}

#[utoipa::path(patch, path = "/api/v1/accounts/{a}/assets/{id}", tag = "assets",
    params(("a" = i64, Path, description = "The account id"), ("id" = String, Path, description = "The asset id"), ("If-Match" = Option<String>, Header, description = "Apply only to this ETag")),
    request_body(content = schema::AssetPatch, content_type = "application/merge-patch+json", description = "A JSON merge patch (RFC 7396)"),
    responses((status = 200, description = "The asset as changed", body = schema::Asset, headers(("ETag" = String))), openapi::Problems))]
async fn patch_asset(
    State(state): State<AppState>,
    Path((a, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> NativeResult<Response> {
    // A favourite is any member's to set; the core checks the rest against the role.
    let (who, account) = caller(&state, &headers, &a, Access::Read).await?;
    let mut asset = state.lib.asset_in(&who, account, &AssetId(id)).await?;
    let if_match = if_match(&headers)?;
    let p: schema::AssetPatch = read_json(&headers, body).await?;
    let key = p.key.clone();
    let mut patch = core_patch(p, &who.user)?;
    // Checked before a rename, so that a bad member leaves the asset where it was.
    assetlib_core::library::attributes::check_patch(&patch)?;
    if let Some(key) = key.filter(|k| *k != asset.key()) {
        // The rename comes first (its If-Match is checked against the asset as read), then the
        // other members, against the renamed asset.
        if if_match.as_ref().is_some_and(|tag| *tag != asset.etag()) {
            return Err(assetlib_core::model::precondition_failed().into());
        }
        asset = state
            .lib
            .rename_asset(&who, account, &asset.id, &key)
            .await
            .map_err(|e| Problem::from(e).param_if_invalid("key"))?;
    } else {
        patch.if_match = if_match;
    }
    if patch == AssetPatch::default() {
        return Ok(with_etag(&asset, asset_json(&state, &asset, &who.user).await?));
    }
    let changed = state.lib.update_asset(&who, account, &asset.id, patch).await?;
    Ok(with_etag(&changed, asset_json(&state, &changed, &who.user).await?))
}

/// A merge patch as the core's patch (all but `key`, which is a move); `who` sets the
/// favourite.
fn core_patch(p: schema::AssetPatch, who: &UserId) -> NativeResult<AssetPatch> {
    let (metadata, metadata_merge) = metadata_change(p.metadata)?;
    let times = |param: &str, v: Option<Option<String>>| -> NativeResult<Option<Option<i64>>> {
        v.map(|t| t.map(|t| parse_time(param, &t)).transpose()).transpose()
    };
    Ok(AssetPatch {
        tags: p.tags.map(Option::unwrap_or_default),
        skus: p.skus.map(Option::unwrap_or_default),
        metadata,
        metadata_merge,
        collection_ids: p.collection_ids.map(|ids| ids.unwrap_or_default().into_iter().map(CollectionId).collect()),
        batch_id: p.batch_id,
        approved: p.approved,
        sensitive: p.sensitive,
        archived: p.archived,
        expires_at: times("expiresAt", p.expires_at)?,
        license_expires_at: times("licenseExpiresAt", p.license_expires_at)?,
        favourite: p.favorite.map(|on| (who.clone(), on)),
        if_match: None,
    })
}

/// The entity tag of `If-Match`: one strong tag, or `None` for none or `*` (the asset exists).
fn if_match(headers: &HeaderMap) -> NativeResult<Option<String>> {
    let mut values = headers.get_all(header::IF_MATCH).iter();
    let Some(value) = values.next() else { return Ok(None) };
    let bad = || Problem::invalid("If-Match", "If-Match takes one ETag of this asset, as its GET gave it.");
    if values.next().is_some() {
        return Err(bad());
    }
    let value = value.to_str().map_err(|_| bad())?.trim();
    if value == "*" {
        return Ok(None);
    }
    if value.len() < 2 || !value.starts_with('"') || !value.ends_with('"') || value[1..value.len() - 1].contains('"') {
        return Err(bad());
    }
    Ok(Some(value.to_owned()))
}

#[utoipa::path(post, path = "/api/v1/accounts/{a}/assets/{id}/links", tag = "assets", params(("a" = i64, Path, description = "The account id"), ("id" = String, Path, description = "The asset id")),
    request_body(content = schema::LinkRequest, description = "All members optional"),
    responses((status = 201, description = "A signed link", body = schema::Link), openapi::Problems))]
async fn create_link(
    State(state): State<AppState>,
    Path((a, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Read).await?;
    let bytes = super::read_small_body(&headers, body, crate::http::JSON_BODY_LIMIT).await?;
    // No body asks for the defaults.
    let req: schema::LinkRequest =
        if bytes.is_empty() { json_body(&Bytes::from_static(b"{}"))? } else { json_body(&bytes)? };
    let disposition = match req.disposition.as_deref() {
        None | Some("inline") => Disposition::Inline,
        Some("attachment") => Disposition::Attachment,
        Some(_) => return Err(Problem::invalid("disposition", "disposition is inline or attachment.")),
    };
    let asset = state.lib.asset_in(&who, account, &AssetId(id)).await?;
    let version = req.version.as_deref().unwrap_or("original");
    let link = state.lib.signed_link(&who, account, &asset.id, version, req.expires_in, disposition).await?;
    let url = match link.target {
        LinkTarget::Store(url) => url,
        LinkTarget::Server(token) => format!("{}/signed/{token}", state.http.public_base_url),
    };
    let body = schema::Link { url, expires_at: rfc3339(link.expires_at) };
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

fn collection_view(c: &Collection, asset_count: u64) -> schema::Collection {
    schema::Collection {
        id: c.id.0.clone(),
        name: c.name.clone(),
        description: c.description.clone(),
        asset_count,
        created_at: rfc3339(c.created_at),
    }
}

/// One collection with its size.
async fn one_collection(state: &AppState, who: &Principal, c: &Collection) -> NativeResult<schema::Collection> {
    Ok(collection_view(c, state.lib.collection_size(who, c.account, &c.id).await?))
}

#[utoipa::path(get, path = "/api/v1/accounts/{a}/collections", tag = "collections",
    params(("a" = i64, Path, description = "The account id"), ("limit" = Option<u32>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, description = "A page of collections", body = schema::CollectionPage), openapi::Problems))]
async fn list_collections(
    State(state): State<AppState>,
    Path(a): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Read).await?;
    let (after, limit) = id_page_params(raw.as_deref())?;
    let after = after.map(CollectionId);
    let page = state.lib.collections(&who, account, after.as_ref(), limit).await?;
    let items = page.items.iter().map(|(c, n)| collection_view(c, *n)).collect();
    let next_cursor = page.next.map(|id| id_cursor(&id.0));
    Ok(axum::Json(schema::CollectionPage { items, next_cursor }).into_response())
}

#[utoipa::path(post, path = "/api/v1/accounts/{a}/collections", tag = "collections", params(("a" = i64, Path, description = "The account id")),
    request_body = schema::CollectionBody,
    responses((status = 201, description = "The new collection", body = schema::Collection), openapi::Problems))]
async fn create_collection(
    State(state): State<AppState>,
    Path(a): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Write).await?;
    let req: schema::CollectionBody = read_json(&headers, body).await?;
    let name = req.name.ok_or_else(|| Problem::body("name is required.", Some("name".into())))?;
    let created = state.lib.create_collection(&who, account, &name, req.description.as_deref().unwrap_or("")).await?;
    Ok((StatusCode::CREATED, axum::Json(collection_view(&created, 0))).into_response())
}

#[utoipa::path(get, path = "/api/v1/accounts/{a}/collections/{id}", tag = "collections",
    params(("a" = i64, Path, description = "The account id"), ("id" = String, Path, description = "The collection id")),
    responses((status = 200, description = "The collection", body = schema::Collection), openapi::Problems))]
async fn get_collection(
    State(state): State<AppState>,
    Path((a, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Read).await?;
    let c = state.lib.collection(&who, account, &CollectionId(id)).await?;
    Ok(axum::Json(one_collection(&state, &who, &c).await?).into_response())
}

#[utoipa::path(patch, path = "/api/v1/accounts/{a}/collections/{id}", tag = "collections",
    params(("a" = i64, Path, description = "The account id"), ("id" = String, Path, description = "The collection id")),
    request_body = schema::CollectionBody,
    responses((status = 200, description = "The collection as changed", body = schema::Collection), openapi::Problems))]
async fn patch_collection(
    State(state): State<AppState>,
    Path((a, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Write).await?;
    let req: schema::CollectionBody = read_json(&headers, body).await?;
    let c = state
        .lib
        .update_collection(&who, account, &CollectionId(id), req.name.as_deref(), req.description.as_deref())
        .await?;
    Ok(axum::Json(one_collection(&state, &who, &c).await?).into_response())
}

#[utoipa::path(delete, path = "/api/v1/accounts/{a}/collections/{id}", tag = "collections",
    params(("a" = i64, Path, description = "The account id"), ("id" = String, Path, description = "The collection id")),
    responses((status = 204, description = "Deleted; its assets stay"), openapi::Problems))]
async fn delete_collection(
    State(state): State<AppState>,
    Path((a, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> NativeResult<Response> {
    let (who, account) = caller(&state, &headers, &a, Access::Write).await?;
    state.lib.delete_collection(&who, account, &CollectionId(id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The native parsers over arbitrary bytes, for the fuzz target: a search query, an
/// `If-Match` value and a PATCH body. Each either parses or is refused with a problem; a
/// refused query parameter is named; a parsed patch passes or fails the core's checks.
pub(crate) fn fuzz_parsers(query: &[u8], if_match_value: &[u8], body: &[u8]) {
    let who = Principal {
        user: UserId("usr_fuzz".into()),
        name: "fuzz".into(),
        admin: false,
        roles: [(AccountId(1), assetlib_core::model::Role::Owner)].into(),
        key_account: None,
        read_only: false,
    };
    if let Ok(query) = std::str::from_utf8(query) {
        match search_query(Some(query), AccountId(1), &who) {
            Ok(q) => assert!((1..=MAX_LIMIT).contains(&q.limit), "limit {}", q.limit),
            Err(p) => assert!(p.status == StatusCode::BAD_REQUEST, "{p:?}"),
        }
    }
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(if_match_value) {
        headers.insert(header::IF_MATCH, v);
        if let Ok(Some(tag)) = if_match(&headers) {
            assert!(tag.len() >= 2 && tag.starts_with('"') && tag.ends_with('"'), "{tag}");
        }
    }
    if let Ok(p) = json_body::<schema::AssetPatch>(&Bytes::copy_from_slice(body))
        && let Ok(patch) = core_patch(p, &who.user)
    {
        let _ = assetlib_core::library::attributes::check_patch(&patch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_patch_reads_as_rfc_7396_says() {
        let patch: Map<String, Value> = serde_json::from_str(r#"{"a": null, "c": "3"}"#).unwrap();
        let (replace, merge) = metadata_change(Some(Some(patch))).unwrap();
        assert_eq!(replace, None);
        assert_eq!(merge, Some([("a".to_string(), None), ("c".to_string(), Some("3".to_string()))].into()));
        assert_eq!(metadata_change(Some(None)).unwrap(), (Some(Metadata::new()), None), "null empties it");
        assert_eq!(metadata_change(None).unwrap(), (None, None), "absent leaves it");
        let bad: Map<String, Value> = serde_json::from_str(r#"{"a": 1}"#).unwrap();
        assert_eq!(metadata_change(Some(Some(bad))).unwrap_err().param.as_deref(), Some("metadata"));
    }

    #[test]
    fn unknown_fields_are_named() {
        let e = json_body::<schema::CollectionBody>(&Bytes::from_static(br#"{"name": "x", "nmae": "y"}"#)).unwrap_err();
        assert_eq!((e.code, e.param.as_deref()), ("invalid_body", Some("nmae")));
        let e = json_body::<schema::CollectionBody>(&Bytes::from_static(b"{not json")).unwrap_err();
        assert_eq!((e.code, e.param), ("invalid_body", None));
    }
}
