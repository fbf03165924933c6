//! The listing benchmark's client: walks a folder page by page (Jivox Get Assets with
//! `nextKey`, or S3 ListObjectsV2 with `start-after`) to learn every full page's request, then
//! times those requests one after another on one keep-alive HTTP/1.1 connection (hyper, as the
//! GET load), checking every answer against the walk.

use crate::load::{Sender, Stats, connect};
use crate::procs::{GroupMeter, GroupUse, Pick};
use crate::s3client::{Bucket, parse_list, target_of};
use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::header::{HOST, HeaderName, HeaderValue};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Which API answers, and so how its body is read.
#[derive(Clone, Copy, Debug)]
pub enum Api {
    Jivox,
    S3,
}

/// One page's request and the names it must answer with.
#[derive(Clone)]
pub struct PageRequest {
    pub target: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub names: Vec<String>,
}

/// The names of a page (sub-folders, then files) and whether more follow (Jivox: the
/// `nextKey`; S3: the last key, to start after).
fn read_page(api: Api, prefix: &str, body: &[u8]) -> anyhow::Result<(Vec<String>, Option<String>)> {
    match api {
        Api::Jivox => {
            let json: serde_json::Value = serde_json::from_slice(body).context("listing: not JSON")?;
            let mut names: Vec<String> = json["folders"]
                .as_array()
                .context("listing: no folders")?
                .iter()
                .filter_map(|f| f.as_str().map(str::to_owned))
                .collect();
            for file in json["files"].as_array().context("listing: no files")? {
                names.push(file["name"].as_str().context("listing: a file without a name")?.to_owned());
            }
            Ok((names, json["nextKey"].as_str().map(str::to_owned)))
        }
        Api::S3 => {
            let page = parse_list(std::str::from_utf8(body)?)?;
            let strip = |k: &str| k.strip_prefix(prefix).unwrap_or(k).trim_end_matches('/').to_owned();
            let mut names: Vec<String> = page.prefixes.iter().map(|p| strip(p)).collect();
            names.extend(page.keys.iter().map(|k| strip(k)));
            let next = if page.truncated { page.keys.last().cloned() } else { None };
            Ok((names, next))
        }
    }
}

async fn fetch(sender: &mut Sender, host: &str, req: &PageRequest) -> anyhow::Result<Bytes> {
    let mut builder = Request::get(&req.target).header(HOST, host);
    for (k, v) in &req.headers {
        builder = builder.header(k, v);
    }
    sender.ready().await?;
    let resp = sender.send_request(builder.body(Empty::<Bytes>::new())?).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    if status != hyper::StatusCode::OK {
        bail!("GET {}: {status} {}", req.target, String::from_utf8_lossy(&body));
    }
    Ok(body)
}

/// Every full page (`limit` entries) of `folder` through assetlib's Get Assets, at most `max_pages`.
pub async fn walk_jivox(
    addr: SocketAddr,
    api_key: &str,
    account: i64,
    folder: &str,
    limit: usize,
    max_pages: usize,
) -> anyhow::Result<Vec<PageRequest>> {
    let headers = vec![(HeaderName::from_static("jvx_apikey"), HeaderValue::from_str(api_key)?)];
    let base = format!("http://{addr}/v2/accounts/{account}/asset-library");
    let mut sender = connect(addr).await?;
    let mut pages = Vec::new();
    let mut next: Option<String> = None;
    while pages.len() < max_pages {
        let mut params = vec![("prefix", folder.to_owned()), ("limit", limit.to_string())];
        if let Some(key) = &next {
            params.push(("nextKey", key.clone()));
        }
        let url = reqwest::Url::parse_with_params(&base, &params)?;
        let mut req = PageRequest { target: target_of(&url), headers: headers.clone(), names: vec![] };
        let body = fetch(&mut sender, &addr.to_string(), &req).await?;
        let (names, more) = read_page(Api::Jivox, "", &body)?;
        if names.len() < limit {
            break;
        }
        req.names = names;
        pages.push(req);
        match more {
            Some(k) => next = Some(k),
            None => break,
        }
    }
    Ok(pages)
}

/// Every full page of `prefix` (ending in `/`) through S3 ListObjectsV2, at most `max_pages`.
pub async fn walk_s3(
    addr: SocketAddr,
    bucket: &Bucket,
    prefix: &str,
    limit: usize,
    max_pages: usize,
) -> anyhow::Result<Vec<PageRequest>> {
    let mut sender = connect(addr).await?;
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    while pages.len() < max_pages {
        let url = bucket.presign_list(prefix, limit, after.as_deref()).await?;
        let mut req = PageRequest { target: target_of(&url), headers: vec![], names: vec![] };
        let body = fetch(&mut sender, &addr.to_string(), &req).await?;
        let (names, more) = read_page(Api::S3, prefix, &body)?;
        if names.len() < limit {
            break;
        }
        req.names = names;
        pages.push(req);
        match more {
            Some(k) => after = Some(k),
            None => break,
        }
    }
    Ok(pages)
}

/// How a listing phase runs.
pub struct ListPlan {
    pub warmup: usize,
    pub requests: usize,
    /// Bounds the whole phase.
    pub deadline: Duration,
}

/// Times `plan.requests` requests (after `plan.warmup` untimed ones), cycling through `pages`,
/// one at a time; every answer must list exactly the walk's names. Returns the latencies, the
/// CPU of `picks` over the timed requests, and the cores busy on the whole machine meanwhile.
pub async fn time_pages(
    addr: SocketAddr,
    api: Api,
    prefix: &str,
    pages: &[PageRequest],
    plan: &ListPlan,
    picks: &[Pick],
) -> anyhow::Result<(Stats, Vec<GroupUse>, f64)> {
    anyhow::ensure!(!pages.is_empty(), "no full page to time");
    let host = addr.to_string();
    let mut sender = connect(addr).await?;
    let stop_at = Instant::now() + plan.deadline;
    let mut latencies = Vec::with_capacity(plan.requests);
    let mut bytes = 0u64;
    let mut meter = None;
    let mut started = Instant::now();
    for n in 0..plan.warmup + plan.requests {
        if Instant::now() >= stop_at {
            bail!("listing: {} of {} requests done within {:?}", n, plan.warmup + plan.requests, plan.deadline);
        }
        if n == plan.warmup {
            meter = Some(GroupMeter::start(picks));
            started = Instant::now();
        }
        let page = &pages[n % pages.len()];
        let t = Instant::now();
        let body = fetch(&mut sender, &host, page).await?;
        let took = t.elapsed();
        let (names, _) = read_page(api, prefix, &body)?;
        if names != page.names {
            bail!("listing {}: the names differ from the walk's", page.target);
        }
        if n >= plan.warmup {
            latencies.push(took.as_micros() as u64);
            bytes += body.len() as u64;
        }
    }
    let elapsed = started.elapsed();
    let (cpu, machine) = meter.map(|m| (m.finish(plan.requests as u64), m.machine_cores())).unwrap_or_default();
    let mut stats = Stats::new(latencies, elapsed, bytes);
    stats.completed_all = (plan.warmup + plan.requests) as u64;
    Ok((stats, cpu, machine))
}
