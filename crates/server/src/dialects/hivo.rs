//! The Hivo REST API (`/api/rest/v1/...`, SPEC 5.2): JSON:API, read-only, authenticated by
//! `X-User-Id` and `X-Api-Key` together (the user must own the key). Every answer is an object
//! with `meta.timestamp` and either `data` or `errors`; authenticated ones carry
//! `meta.authentication` and `meta.links.me`. The dialect parses into the core's query, calls
//! it, and renders: no filter, permission or tenancy rule lives here.

use crate::AppState;
use assetlib_core::auth::Principal;
use assetlib_core::library::links::LinkTarget;
use assetlib_core::model::{Asset, Collection, ORIGINAL, Renditions, THUMBNAIL};
use assetlib_core::search::{AssetQuery, Paging, Scope, Sort, SortField};
use assetlib_core::signing::Disposition;
use assetlib_core::{AccountId, AssetId, Code, CollectionId, Error, UserId};
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

const PREFIX: &str = "/api/rest/v1";
const DEFAULT_LIMIT: usize = 32;
const MAX_LIMIT: usize = 256;
const MAX_SEARCH: usize = 256;
const MAX_PATH: usize = 512;
const MAX_BATCH: usize = 256;
const MAX_SKU: usize = 128;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/rest/v1/assets", get(list_assets))
        .route("/api/rest/v1/assets/{id}", get(get_asset))
        .route("/api/rest/v1/assets/{id}/download", get(download))
        .route("/api/rest/v1/collections", get(list_collections))
        .route("/api/rest/v1/collections/{id}", get(get_collection))
        .route("/api/rest/v1/users/{id}", get(get_user))
        .route("/api/rest/v1", any(unknown_route))
        .route("/api/rest/v1/{*rest}", any(unknown_route))
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
}

fn now_millis() -> i64 {
    assetlib_core::model::now_millis()
}

/// Unix seconds of a time in milliseconds.
fn secs(millis: i64) -> i64 {
    millis.div_euclid(1000)
}

/// A JSON:API error document, with `source.parameter` when a parameter is at fault.
#[derive(Debug)]
pub struct HivoError {
    status: StatusCode,
    detail: String,
    parameter: Option<String>,
    retry_after: Option<u64>,
}

impl HivoError {
    fn bad(parameter: &str, detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            detail: detail.into(),
            parameter: Some(parameter.to_owned()),
            retry_after: None,
        }
    }

    fn not_found() -> Self {
        Self { status: StatusCode::NOT_FOUND, detail: "Not found.".into(), parameter: None, retry_after: None }
    }
}

impl From<Error> for HivoError {
    fn from(e: Error) -> Self {
        let status = super::status_of(e.kind);
        Self { status, detail: e.message, parameter: e.param, retry_after: e.retry_after }
    }
}

impl IntoResponse for HivoError {
    fn into_response(self) -> Response {
        let mut error = json!({
            "status": self.status.as_u16().to_string(),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "detail": self.detail,
        });
        if let Some(parameter) = self.parameter {
            error["source"] = json!({ "parameter": parameter });
        }
        let body = json!({ "meta": { "timestamp": now_millis() }, "errors": [error] });
        let mut response = json_response(self.status, &body);
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

type HivoResult<T> = Result<T, HivoError>;

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    response
}

async fn unknown_route() -> HivoError {
    HivoError::not_found()
}

/// The caller: `X-Api-Key` and `X-User-Id`, both required, the user owning the key.
async fn caller(state: &AppState, headers: &HeaderMap) -> HivoResult<Principal> {
    let key = super::credential(headers, "x-api-key")?;
    let user = super::credential(headers, "x-user-id")?;
    let (Some(key), Some(user)) = (key, user) else {
        return Err(Error::unauthenticated("Send both X-User-Id and X-Api-Key.").into());
    };
    let who = state.lib.authenticate(key).await?;
    if who.user.0 != user {
        return Err(Error::unauthenticated("The API key does not belong to this user.").into());
    }
    Ok(who)
}

/// Everything a Hivo answer needs to know about the request.
struct Ctx<'a> {
    state: &'a AppState,
    who: Principal,
}

impl Ctx<'_> {
    fn base(&self) -> String {
        format!("{}{PREFIX}", self.state.http.public_base_url)
    }

    /// `{meta, ...rest}` as an authenticated answer.
    fn document(&self, rest: Map<String, Value>) -> Response {
        let mut body = Map::new();
        body.insert(
            "meta".into(),
            json!({
                "timestamp": now_millis(),
                "authentication": "apiKey",
                "links": { "me": format!("{}/users/{}", self.base(), self.who.user) },
            }),
        );
        body.extend(rest);
        json_response(StatusCode::OK, &Value::Object(body))
    }
}

/// The query's pairs, strictly decoded.
fn pairs(raw: Option<&str>) -> HivoResult<Vec<(String, String)>> {
    Ok(super::query_pairs(raw.unwrap_or("").as_bytes())?)
}

fn bounded(name: &str, v: &str, max: usize) -> HivoResult<String> {
    if v.chars().count() > max {
        return Err(HivoError::bad(name, format!("{name} may be at most {max} characters long.")));
    }
    Ok(v.to_owned())
}

fn flag(name: &str, v: &str) -> HivoResult<bool> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(HivoError::bad(name, format!("{name} must be true or false."))),
    }
}

fn number(name: &str, v: &str, range: std::ops::RangeInclusive<u64>) -> HivoResult<u64> {
    v.parse::<u64>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
        HivoError::bad(name, format!("{name} must be an integer from {} to {}.", range.start(), range.end()))
    })
}

fn unix_secs(name: &str, v: &str) -> HivoResult<i64> {
    v.parse::<i64>()
        .ok()
        .filter(|s| (0..=253_402_300_799).contains(s))
        .ok_or_else(|| HivoError::bad(name, format!("{name} must be a time in Unix seconds.")))
}

/// `limit` and `skip`, and the other pairs.
struct Paged {
    limit: usize,
    skip: u64,
}

/// Parses `GET /assets`'s parameters into a query. Unknown parameters are refused (JSON:API
/// asks a server to refuse what it does not know).
fn asset_query(raw: Option<&str>, who: &Principal) -> HivoResult<(AssetQuery, Paged, bool)> {
    let mut q = AssetQuery::new(Scope::All, DEFAULT_LIMIT);
    let mut paged = Paged { limit: DEFAULT_LIMIT, skip: 0 };
    let mut thumbnails = false;
    for (name, v) in pairs(raw)? {
        let v = v.as_str();
        match name.as_str() {
            "sort" => {
                q.sort = match v {
                    "createdAt" => Sort { field: SortField::CreatedAt, descending: false },
                    "-createdAt" => Sort { field: SortField::CreatedAt, descending: true },
                    _ => return Err(HivoError::bad("sort", "sort must be createdAt or -createdAt.")),
                };
            }
            "limit" => paged.limit = number("limit", v, 1..=MAX_LIMIT as u64)? as usize,
            "skip" => paged.skip = number("skip", v, 0..=assetlib_core::search::MAX_SKIP)?,
            "includeThumbnails" => thumbnails = flag("includeThumbnails", v)?,
            "filter[search]" => q.q = Some(bounded("filter[search]", v, MAX_SEARCH)?).filter(|s| !s.is_empty()),
            "filter[id]" => {
                for id in v.split(',').map(str::trim).filter(|id| !id.is_empty()) {
                    q.ids.push(AssetId(bounded("filter[id]", id, 128)?));
                }
                if q.ids.len() > assetlib_core::search::MAX_IDS {
                    return Err(HivoError::bad(
                        "filter[id]",
                        format!("filter[id] may name at most {} ids.", assetlib_core::search::MAX_IDS),
                    ));
                }
            }
            "filter[path]" => q.path = Some(bounded("filter[path]", v, MAX_PATH)?),
            "filter[pathPrefix]" => q.path_prefix = Some(bounded("filter[pathPrefix]", v, MAX_PATH)?),
            "filter[sensitive]" => q.sensitive = Some(flag("filter[sensitive]", v)?),
            "filter[archived]" => q.archived = Some(flag("filter[archived]", v)?),
            "filter[licenseExpired]" => q.license_expired = Some(flag("filter[licenseExpired]", v)?),
            "filter[approved]" => q.approved = Some(flag("filter[approved]", v)?),
            "filter[favoriteBy]" => q.favourite_of = Some(UserId(bounded("filter[favoriteBy]", v, 128)?)),
            "filter[collectionId]" => q.collection = Some(CollectionId(bounded("filter[collectionId]", v, 128)?)),
            "filter[clientId]" => {
                let account = super::parse_account_id(v)
                    .ok_or_else(|| HivoError::bad("filter[clientId]", "filter[clientId] must be a client id."))?;
                who.check_account_filter()?;
                q.scope = Scope::Accounts(vec![account]);
            }
            "filter[batchId]" => q.batch_id = Some(bounded("filter[batchId]", v, MAX_BATCH)?),
            "filter[createdMin]" => q.created_min = Some(unix_secs("filter[createdMin]", v)? * 1000),
            "filter[createdMax]" => q.created_max = Some(unix_secs("filter[createdMax]", v)? * 1000 + 999),
            "filter[sku]" => q.sku = Some(bounded("filter[sku]", v, MAX_SKU)?),
            other => match other.strip_prefix("filter[metadata][").and_then(|k| k.strip_suffix(']')) {
                Some(key) if !key.is_empty() && key.chars().count() <= 128 => {
                    q.metadata.push((key.to_owned(), v.to_owned()));
                }
                _ => return Err(HivoError::bad(other, format!("Unknown parameter '{other}'."))),
            },
        }
    }
    q.limit = paged.limit;
    q.paging = Paging::Skip(paged.skip);
    Ok((q, paged, thumbnails))
}

/// The Hivo parsers over an arbitrary query string, for the fuzz target: the asset query
/// parses within its bounds or is a 400 naming a parameter, and the paging links of what it
/// parsed are built.
pub(crate) fn fuzz_query(raw: &str) {
    let admin = Principal {
        user: UserId("usr_fuzz".into()),
        name: "fuzz".into(),
        admin: true,
        roles: HashMap::new(),
        key_account: None,
        read_only: false,
    };
    match asset_query(Some(raw), &admin) {
        Ok((q, paged, _)) => {
            assert!((1..=MAX_LIMIT).contains(&q.limit) && paged.limit == q.limit, "limit {}", q.limit);
            assert!(paged.skip <= assetlib_core::search::MAX_SKIP);
            assert!(q.ids.len() <= assetlib_core::search::MAX_IDS);
            let links = page_links("http://h/api/rest/v1/assets", Some(raw), paged.skip, paged.limit, true);
            let links = links.expect("a query that parsed links");
            assert!(links["first"].as_str().is_some_and(|l| !l.contains("skip=")), "{links}");
        }
        // A 400 names its parameter, unless the query itself does not decode.
        Err(e) => assert!(
            e.status == StatusCode::BAD_REQUEST
                && (e.parameter.is_some() || super::query_pairs(raw.as_bytes()).is_err()),
            "{e:?}"
        ),
    }
}

/// The query string of `pairs` without `skip`, plus `skip=n` when `n` is given.
fn with_skip(pairs: &[(String, String)], skip: Option<u64>) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(k, _)| k != "skip") {
        out.append_pair(k, v);
    }
    if let Some(n) = skip {
        out.append_pair("skip", &n.to_string());
    }
    out.finish()
}

/// `links` of a page: `self`, `first`, `prev` (`null` on the first page), `next` (`null` on
/// the last), each keeping every parameter but `skip`.
fn page_links(url: &str, raw: Option<&str>, skip: u64, limit: usize, more: bool) -> HivoResult<Value> {
    let pairs = pairs(raw)?;
    let link = |skip: Option<u64>| {
        let query = with_skip(&pairs, skip);
        if query.is_empty() { url.to_owned() } else { format!("{url}?{query}") }
    };
    let limit = limit as u64;
    Ok(json!({
        "self": link((skip > 0).then_some(skip)),
        "first": link(None),
        "prev": if skip == 0 { Value::Null } else { Value::String(link(Some(skip.saturating_sub(limit)).filter(|n| *n > 0))) },
        "next": if more { Value::String(link(Some(skip + limit))) } else { Value::Null },
    }))
}

/// What an asset's resource shows beside its own fields.
struct Shown<'a> {
    names: &'a HashMap<CollectionId, String>,
    renditions: Option<&'a Renditions>,
    /// The single-asset GET: image versions carry their width and height.
    sizes: bool,
    /// `links.thumbnail`'s signed URL, when asked for and the asset has one.
    thumbnail: Option<String>,
}

/// Hivo's `versions`: `{name: {size, type, extension}}`, with `width` and `height` when asked.
fn versions(asset: &Asset, renditions: Option<&Renditions>, sizes: bool) -> Value {
    let extension = asset.name.rsplit_once('.').map_or("", |(_, ext)| ext).to_ascii_lowercase();
    let mut original = json!({ "size": asset.size, "type": asset.content_type, "extension": extension });
    if let Some((w, h)) = renditions.and_then(|r| r.original).filter(|_| sizes) {
        original["width"] = w.into();
        original["height"] = h.into();
    }
    let mut out = Map::new();
    out.insert(ORIGINAL.into(), original);
    for r in renditions.map(|r| r.versions.as_slice()).unwrap_or_default() {
        let mut v = json!({ "size": r.size, "type": r.content_type, "extension": r.extension });
        if sizes {
            v["width"] = r.width.into();
            v["height"] = r.height.into();
        }
        out.insert(r.version.clone(), v);
    }
    Value::Object(out)
}

/// An asset as a JSON:API resource, with Hivo's attribute names.
fn asset_resource(ctx: &Ctx, asset: &Asset, shown: Shown) -> Value {
    let names = shown.names;
    let a = &asset.attributes;
    let time = |t: Option<i64>| t.map_or(Value::Null, |t| Value::from(secs(t)));
    let collections: Vec<Value> = a
        .collection_ids
        .iter()
        .map(|id| json!({ "id": id, "name": names.get(id).cloned().unwrap_or_default() }))
        .collect();
    let mut links = json!({ "self": format!("{}/assets/{}", ctx.base(), asset.id) });
    if let Some(href) = shown.thumbnail {
        links["thumbnail"] = json!({ "href": href, "meta": { "version": THUMBNAIL } });
    }
    json!({
        "type": "assets",
        "id": asset.id,
        "attributes": {
            "name": asset.name,
            "path": asset.path,
            "createdAt": secs(asset.created_at),
            "lastModified": secs(asset.last_modified),
            "tags": a.tags,
            "skus": a.skus,
            "metadata": asset.metadata,
            "collectionIds": a.collection_ids,
            "collections": collections,
            "batchId": a.batch_id,
            "approvedAt": time(a.approved_at),
            "sensitiveAt": time(asset.sensitive_at),
            "archivedAt": time(asset.archived_at),
            "expires": time(a.expires_at),
            "licenseExpiresAt": time(a.license_expires_at),
            "favs": a.favourites,
            "views": asset.views,
            "downloads": asset.downloads,
            "clientId": asset.account.0.to_string(),
            "createdBy": asset.created_by,
            "taskIds": [],
            "versions": versions(asset, shown.renditions, shown.sizes),
        },
        "links": links,
    })
}

/// The names of the collections `assets` are in, in one query.
async fn collection_names(ctx: &Ctx<'_>, assets: &[Asset]) -> HivoResult<HashMap<CollectionId, String>> {
    let mut ids: Vec<CollectionId> = assets.iter().flat_map(|a| a.attributes.collection_ids.iter().cloned()).collect();
    ids.sort_by(|a, b| a.0.cmp(&b.0));
    ids.dedup();
    let found = ctx.state.lib.collections_named(&ctx.who, &ids).await?;
    Ok(found.into_iter().map(|c| (c.id, c.name)).collect())
}

async fn list_assets(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> HivoResult<Response> {
    let who = caller(&state, &headers).await?;
    let (query, paged, thumbnails) = asset_query(raw.as_deref(), &who)?;
    let ctx = Ctx { state: &state, who };
    let page = state.lib.search_assets(&ctx.who, query).await.map_err(hivo_param)?;
    let names = collection_names(&ctx, &page.assets).await?;
    let refs: Vec<&Asset> = page.assets.iter().collect();
    let renditions = state.lib.renditions_of(&refs).await?;
    let mut data: Vec<Value> = Vec::with_capacity(page.assets.len());
    for a in &page.assets {
        let r = renditions.get(&a.blob);
        let thumbnail = if thumbnails { thumbnail_link(&ctx, a, r).await? } else { None };
        data.push(asset_resource(&ctx, a, Shown { names: &names, renditions: r, sizes: false, thumbnail }));
    }
    let url = format!("{}/assets", ctx.base());
    let links = page_links(&url, raw.as_deref(), paged.skip, paged.limit, page.next.is_some())?;
    let mut rest = Map::new();
    rest.insert("links".into(), links);
    rest.insert("data".into(), Value::Array(data));
    Ok(ctx.document(rest))
}

/// The core names its parameters as the native API does; Hivo names them its own way.
fn hivo_param(mut e: Error) -> HivoError {
    e.param = e.param.map(|p| match p.as_str() {
        "id" => "filter[id]".to_owned(),
        "skip" => "skip".to_owned(),
        other => other.to_owned(),
    });
    e.into()
}

async fn get_asset(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> HivoResult<Response> {
    let who = caller(&state, &headers).await?;
    let mut thumbnails = false;
    for (name, v) in pairs(raw.as_deref())? {
        match name.as_str() {
            "includeThumbnails" => thumbnails = flag("includeThumbnails", &v)?,
            other => return Err(HivoError::bad(other, format!("Unknown parameter '{other}'."))),
        }
    }
    let ctx = Ctx { state: &state, who };
    let asset = state.lib.asset_by_id(&ctx.who, &AssetId(id)).await?;
    state.lib.count_view(&asset.id);
    let names = collection_names(&ctx, std::slice::from_ref(&asset)).await?;
    let renditions = state.lib.renditions(&asset).await?;
    let thumbnail = if thumbnails { thumbnail_link(&ctx, &asset, Some(&renditions)).await? } else { None };
    let shown = Shown { names: &names, renditions: Some(&renditions), sizes: true, thumbnail };
    let resource = asset_resource(&ctx, &asset, shown);
    let mut rest = Map::new();
    rest.insert("links".into(), resource["links"].clone());
    rest.insert("data".into(), resource);
    Ok(ctx.document(rest))
}

/// A signed URL of the asset's thumbnail, if it has one (`includeThumbnails`): the same kind
/// of link as a download's, shown inline.
async fn thumbnail_link(ctx: &Ctx<'_>, asset: &Asset, renditions: Option<&Renditions>) -> HivoResult<Option<String>> {
    let Some(thumbnail) = renditions.and_then(|r| r.get(THUMBNAIL)) else { return Ok(None) };
    let secs = ctx.state.lib.config().signed_link_ttl.as_secs();
    let link = ctx.state.lib.link_to(asset, Some(thumbnail), secs, Disposition::Inline).await?;
    Ok(Some(link_url(ctx.state, link.target)))
}

fn link_url(state: &AppState, target: LinkTarget) -> String {
    match target {
        LinkTarget::Store(url) => url,
        LinkTarget::Server(token) => format!("{}/signed/{token}", state.http.public_base_url),
    }
}

/// `GET /assets/{id}/download`: 302 to a signed URL of the version, as an attachment unless
/// asked otherwise (`attachment=0` or `inline=1`; `attachment` wins when both are given).
async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> HivoResult<Response> {
    let who = caller(&state, &headers).await?;
    let (mut version, mut attachment, mut inline) = ("original".to_owned(), None, None);
    for (name, v) in pairs(raw.as_deref())? {
        match name.as_str() {
            "version" => version = bounded("version", &v, 64)?,
            "attachment" => attachment = Some(flag("attachment", &v)?),
            "inline" => inline = Some(flag("inline", &v)?),
            other => return Err(HivoError::bad(other, format!("Unknown parameter '{other}'."))),
        }
    }
    let as_attachment = attachment.or(inline.map(|i| !i)).unwrap_or(true);
    let disposition = if as_attachment { Disposition::Attachment } else { Disposition::Inline };
    let asset = state.lib.asset_by_id(&who, &AssetId(id)).await?;
    let link = state.lib.signed_link(&who, asset.account, &asset.id, &version, None, disposition).await?;
    let url = link_url(&state, link.target);
    state.lib.count_download(&asset.id);
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(location) = HeaderValue::from_str(&url) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn collection_resource(ctx: &Ctx, c: &Collection) -> Value {
    json!({
        "type": "collections",
        "id": c.id,
        "attributes": {
            "name": c.name,
            "description": c.description,
            "createdAt": secs(c.created_at),
            "lastModified": secs(c.last_modified),
            "createdBy": c.created_by,
            "clientId": c.account.0.to_string(),
        },
        "links": { "self": format!("{}/collections/{}", ctx.base(), c.id) },
    })
}

async fn list_collections(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> HivoResult<Response> {
    let who = caller(&state, &headers).await?;
    let mut paged = Paged { limit: DEFAULT_LIMIT, skip: 0 };
    let mut account: Option<AccountId> = None;
    for (name, v) in pairs(raw.as_deref())? {
        match name.as_str() {
            "limit" => paged.limit = number("limit", &v, 1..=MAX_LIMIT as u64)? as usize,
            "skip" => paged.skip = number("skip", &v, 0..=assetlib_core::search::MAX_SKIP)?,
            "filter[clientId]" => {
                let a = super::parse_account_id(&v)
                    .ok_or_else(|| HivoError::bad("filter[clientId]", "filter[clientId] must be a client id."))?;
                who.check_account_filter()?;
                account = Some(a);
            }
            other => return Err(HivoError::bad(other, format!("Unknown parameter '{other}'."))),
        }
    }
    let ctx = Ctx { state: &state, who };
    let mut found = state.lib.collections_in_reach(&ctx.who, account, paged.skip, paged.limit + 1).await?;
    let more = found.len() > paged.limit;
    found.truncate(paged.limit);
    let data: Vec<Value> = found.iter().map(|c| collection_resource(&ctx, c)).collect();
    let url = format!("{}/collections", ctx.base());
    let mut rest = Map::new();
    rest.insert("links".into(), page_links(&url, raw.as_deref(), paged.skip, paged.limit, more)?);
    rest.insert("data".into(), Value::Array(data));
    Ok(ctx.document(rest))
}

async fn get_collection(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> HivoResult<Response> {
    let who = caller(&state, &headers).await?;
    let ctx = Ctx { state: &state, who };
    let c = state.lib.collection_by_id(&ctx.who, &CollectionId(id)).await?;
    let resource = collection_resource(&ctx, &c);
    let mut rest = Map::new();
    rest.insert("links".into(), resource["links"].clone());
    rest.insert("data".into(), resource);
    Ok(ctx.document(rest))
}

/// `GET /users/me` and `GET /users/{id}`: the caller only; any other user is not found.
async fn get_user(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> HivoResult<Response> {
    let who = caller(&state, &headers).await?;
    if id != "me" && id != who.user.0 {
        return Err(Error::not_found(Code::AccountNotFound, "User not found.").into());
    }
    let ctx = Ctx { state: &state, who };
    let self_link = format!("{}/users/{}", ctx.base(), ctx.who.user);
    let resource = json!({
        "type": "users",
        "id": ctx.who.user,
        "attributes": { "name": ctx.who.name },
        "links": { "self": self_link },
    });
    let mut rest = Map::new();
    rest.insert("links".into(), resource["links"].clone());
    rest.insert("data".into(), resource);
    Ok(ctx.document(rest))
}
