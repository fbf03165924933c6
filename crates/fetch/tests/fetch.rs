//! The fetcher against real HTTP servers on loopback. Addresses the guard must refuse are never
//! contacted: loopback ones are watched by a tripwire listener that proves no connection came,
//! and nothing here ever connects to a non-loopback address (the guard refuses those first).

use assetlib_core::ports::{Fetched, UrlFetcher};
use assetlib_core::{Error, ErrorKind};
use assetlib_fetch::{FetchOptions, SafeFetcher};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// 100 kB of varied bytes: more than one chunk, so order and completeness are tested.
fn photo() -> Vec<u8> {
    (0..100_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

const LIMIT: u64 = 1_000;

fn app() -> Router {
    Router::new()
        .route("/files/photo.png", get(|| async { ([(header::CONTENT_TYPE, "image/png")], photo()) }))
        .route(
            "/download",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "application/pdf"),
                        (header::CONTENT_DISPOSITION, "attachment; filename=\"report final.pdf\""),
                    ],
                    "%PDF-1.7 not really",
                )
            }),
        )
        .route("/to", get(|Query(q): Query<HashMap<String, String>>| async move { redirect(&q["url"]) }))
        .route(
            "/chain/{n}",
            get(|Path(n): Path<u32>| async move {
                // Relative locations: resolved against the current URL.
                if n == 0 { redirect("/files/photo.png") } else { redirect(&format!("./{}", n - 1)) }
            }),
        )
        .route("/big", get(|| async { vec![b'x'; LIMIT as usize + 1] }))
        .route("/exact", get(|| async { vec![b'x'; LIMIT as usize] }))
        .route(
            "/big-chunked",
            get(|| async {
                let chunks = (0..20).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'y'; 100])));
                Body::from_stream(futures::stream::iter(chunks))
            }),
        )
        .route(
            "/stall",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "never"
            }),
        )
        .route(
            "/stall-body",
            get(|| async {
                let first = futures::stream::once(async { Ok::<_, std::io::Error>(Bytes::from_static(b"start")) });
                Body::from_stream(first.chain(futures::stream::pending()))
            }),
        )
}

fn redirect(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response()
}

/// The app on 127.0.0.1, bound before it is spawned.
async fn serve() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app()).await });
    addr
}

/// A listener that records every connection, to show that none came from the fetcher.
struct Tripwire {
    addr: SocketAddr,
    accepted: mpsc::UnboundedReceiver<SocketAddr>,
}

impl Tripwire {
    /// `None` if the address cannot be bound here (no IPv6, say).
    async fn bind(addr: &str) -> Option<Self> {
        let listener = TcpListener::bind(addr).await.ok()?;
        let addr = listener.local_addr().ok()?;
        let (tx, accepted) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((_stream, peer)) = listener.accept().await {
                if tx.send(peer).is_err() {
                    break;
                }
            }
        });
        Some(Self { addr, accepted })
    }

    /// Connects a probe: connections are accepted in order, so if the first one accepted is the
    /// probe, nothing connected before it.
    async fn assert_untouched(mut self) {
        let probe = TcpStream::connect(self.addr).await.expect("probe connects");
        let first = self.accepted.recv().await.expect("the tripwire runs");
        assert_eq!(first, probe.local_addr().expect("probe addr"), "something connected to {}", self.addr);
    }
}

fn fetcher(options: FetchOptions) -> SafeFetcher {
    SafeFetcher::new(options).expect("client builds")
}

/// Allows the local test server, and nothing else.
fn local_options() -> FetchOptions {
    FetchOptions { allow_hosts: vec!["127.0.0.1".into()], ..FetchOptions::default() }
}

async fn refused(fetcher: &SafeFetcher, url: &str, max: u64) -> Error {
    match fetcher.fetch(url, max).await {
        Ok(_) => panic!("{url} was fetched"),
        Err(error) => {
            assert_eq!(error.kind, ErrorKind::Invalid, "{url}: {error}");
            error
        }
    }
}

async fn read_body(fetched: Fetched) -> Result<Vec<u8>, Error> {
    let mut body = fetched.body;
    let mut all = Vec::new();
    while let Some(chunk) = body.next().await {
        all.extend_from_slice(&chunk?);
    }
    Ok(all)
}

fn loopback_message(host: &str) -> String {
    format!("The URL's host {host} is a loopback address and may not be fetched.")
}

#[tokio::test]
async fn unsafe_urls_are_refused_by_default_without_connecting() {
    let fetcher = fetcher(FetchOptions::default());
    let v4 = Tripwire::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
    let port = v4.addr.port();

    let cases = [
        (format!("http://127.0.0.1:{port}/x"), loopback_message("127.0.0.1")),
        (format!("http://localhost:{port}/x"), loopback_message("localhost")),
        (format!("http://[::ffff:127.0.0.1]:{port}/x"), loopback_message("[::ffff:127.0.0.1]")),
        (format!("http://2130706433:{port}/x"), loopback_message("127.0.0.1")),
        (
            format!("http://0.0.0.0:{port}/x"),
            "The URL's host 0.0.0.0 is an unspecified address and may not be fetched.".into(),
        ),
        ("http://10.0.0.1/x".into(), "The URL's host 10.0.0.1 is a private address and may not be fetched.".into()),
        (
            "http://169.254.169.254/latest/meta-data/".into(),
            "The URL's host 169.254.169.254 is a cloud metadata address and may not be fetched.".into(),
        ),
        (
            "http://[fd00:ec2::254]/latest/meta-data/".into(),
            "The URL's host [fd00:ec2::254] is a cloud metadata address and may not be fetched.".into(),
        ),
        (
            "http://metadata.google.internal/computeMetadata/v1/".into(),
            "The URL's host metadata.google.internal is a cloud metadata address and may not be fetched.".into(),
        ),
        (
            "http://192.168.1.1/".into(),
            "The URL's host 192.168.1.1 is a private address and may not be fetched.".into(),
        ),
        ("ftp://127.0.0.1/x".into(), "The URL must use http or https.".into()),
        ("ftp://example.com/x".into(), "The URL must use http or https.".into()),
        ("file:///etc/passwd".into(), "The URL must use http or https.".into()),
        ("http://user:secret@example.com/".into(), "The URL may not contain a user name or password.".into()),
        ("not a url".into(), "The URL is not valid: relative URL without a base.".into()),
    ];
    for (url, message) in cases {
        let started = Instant::now();
        let error = refused(&fetcher, &url, LIMIT).await;
        assert_eq!(error.message, message, "{url}");
        // Refused by the guard, not after a connection attempt timed out or failed.
        assert!(started.elapsed() < Duration::from_secs(1), "{url} took {:?}", started.elapsed());
    }
    v4.assert_untouched().await;

    if let Some(v6) = Tripwire::bind("[::1]:0").await {
        let url = format!("http://[::1]:{}/x", v6.addr.port());
        assert_eq!(refused(&fetcher, &url, LIMIT).await.message, loopback_message("[::1]"));
        v6.assert_untouched().await;
    } else {
        assert_eq!(refused(&fetcher, "http://[::1]/x", LIMIT).await.message, loopback_message("[::1]"));
    }
}

#[tokio::test]
async fn names_resolving_to_refused_addresses_are_refused_without_connecting() {
    // A name other than `localhost` that the hosts file maps to 127.0.0.1, so that the check
    // runs in the resolver and no DNS query leaves the machine.
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let name = hosts
        .lines()
        .filter_map(|line| line.split('#').next())
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|fields| fields.first() == Some(&"127.0.0.1"))
        .flat_map(|fields| fields.into_iter().skip(1).map(str::to_owned).collect::<Vec<_>>())
        .find(|name| !name.eq_ignore_ascii_case("localhost") && !name.to_ascii_lowercase().ends_with(".localhost"));
    let Some(name) = name else {
        eprintln!("skipped: /etc/hosts maps no name but localhost to 127.0.0.1");
        return;
    };
    let tripwire = Tripwire::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{name}:{}/x", tripwire.addr.port());
    let error = refused(&fetcher(FetchOptions::default()), &url, LIMIT).await;
    assert_eq!(
        error.message,
        format!("The URL's host {name} resolves to 127.0.0.1, a loopback address, and may not be fetched.")
    );
    assert_eq!(error.code, "url_host_refused");
    tripwire.assert_untouched().await;
}

#[tokio::test]
async fn an_allowed_local_file_is_fetched_byte_for_byte() {
    let addr = serve().await;
    let fetcher = fetcher(local_options());

    let fetched = fetcher.fetch(&format!("http://{addr}/files/photo.png"), 1_000_000).await.expect("fetched");
    assert_eq!(fetched.file_name.as_deref(), Some("photo.png"));
    assert_eq!(fetched.content_type.as_deref(), Some("image/png"));
    assert_eq!(fetched.length, Some(100_000));
    assert!(read_body(fetched).await.expect("body") == photo(), "the body differs");

    let fetched = fetcher.fetch(&format!("http://{addr}/download?id=7"), LIMIT).await.expect("fetched");
    assert_eq!(fetched.file_name.as_deref(), Some("report final.pdf"));
    assert_eq!(fetched.content_type.as_deref(), Some("application/pdf"));
    assert_eq!(read_body(fetched).await.expect("body"), b"%PDF-1.7 not really");

    // Exactly the limit is fine.
    let fetched = fetcher.fetch(&format!("http://{addr}/exact"), LIMIT).await.expect("fetched");
    assert_eq!(read_body(fetched).await.expect("body").len(), LIMIT as usize);
}

#[tokio::test]
async fn an_allowed_name_is_fetched() {
    let addr = serve().await;
    let fetcher = fetcher(FetchOptions { allow_hosts: vec!["localhost".into()], ..FetchOptions::default() });
    let fetched = fetcher.fetch(&format!("http://localhost:{}/files/photo.png", addr.port()), 1_000_000).await;
    assert_eq!(read_body(fetched.expect("fetched")).await.expect("body").len(), 100_000);
}

#[tokio::test]
async fn redirects_are_followed_and_checked_at_every_hop() {
    let addr = serve().await;
    let fetcher = fetcher(local_options());
    let via = |target: &str| format!("http://{addr}/to?url={target}");

    // Followed: a redirect to an allowed host, and a chain of relative redirects up to the limit.
    let fetched = fetcher.fetch(&via(&format!("http://{addr}/files/photo.png")), 1_000_000).await.expect("fetched");
    assert_eq!(fetched.file_name.as_deref(), Some("photo.png"));
    assert_eq!(read_body(fetched).await.expect("body").len(), 100_000);
    let fetched = fetcher.fetch(&format!("http://{addr}/chain/4"), 1_000_000).await.expect("5 redirects");
    assert_eq!(read_body(fetched).await.expect("body"), photo());

    // Refused: private, metadata and non-http targets (never contacted), and a loopback address
    // that is not allowed (watched).
    let cases = [
        ("http://10.0.0.1/x".to_owned(), "The URL's host 10.0.0.1 is a private address and may not be fetched."),
        (
            "http://169.254.169.254/latest/meta-data".to_owned(),
            "The URL's host 169.254.169.254 is a cloud metadata address and may not be fetched.",
        ),
        (
            "http://[::ffff:a9fe:a9fe]/latest/meta-data".to_owned(),
            "The URL's host [::ffff:169.254.169.254] is a cloud metadata address and may not be fetched.",
        ),
        ("file:///etc/passwd".to_owned(), "The URL must use http or https."),
        ("ftp://example.com/x".to_owned(), "The URL must use http or https."),
    ];
    for (target, message) in cases {
        assert_eq!(refused(&fetcher, &via(&target), LIMIT).await.message, message, "{target}");
    }

    let tripwire = Tripwire::bind("127.0.0.2:0").await.expect("bind 127.0.0.2");
    let target = format!("http://127.0.0.2:{}/", tripwire.addr.port());
    assert_eq!(refused(&fetcher, &via(&target), LIMIT).await.message, loopback_message("127.0.0.2"));
    let target = format!("http://localhost:{}/", tripwire.addr.port());
    assert_eq!(refused(&fetcher, &via(&target), LIMIT).await.message, loopback_message("localhost"));
    tripwire.assert_untouched().await;
}

#[tokio::test]
async fn redirect_chains_longer_than_the_limit_are_refused() {
    let addr = serve().await;
    let error = refused(&fetcher(local_options()), &format!("http://{addr}/chain/5"), LIMIT).await;
    assert_eq!(error.message, "The URL redirected more than 5 times.");
    assert_eq!(error.code, "url_too_many_redirects");

    let one = fetcher(FetchOptions { max_redirects: 1, ..local_options() });
    assert!(one.fetch(&format!("http://{addr}/chain/0"), 1_000_000).await.is_ok());
    let error = refused(&one, &format!("http://{addr}/chain/1"), LIMIT).await;
    assert_eq!(error.message, "The URL redirected more than 1 times.");
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let addr = serve().await;
    let fetcher = fetcher(local_options());
    let too_large = format!("The file at the URL is larger than the upload limit of {LIMIT} bytes.");

    // Content-Length says so: refused before the body is read.
    let error = refused(&fetcher, &format!("http://{addr}/big"), LIMIT).await;
    assert_eq!(error.message, too_large);
    assert_eq!(error.code, "url_too_large");

    // No Content-Length: the stream fails once past the limit.
    let fetched = fetcher.fetch(&format!("http://{addr}/big-chunked"), LIMIT).await.expect("headers are fine");
    assert_eq!(fetched.length, None);
    let error = read_body(fetched).await.expect_err("the body is too large");
    assert_eq!((error.kind, error.message), (ErrorKind::Invalid, too_large));
}

#[tokio::test]
async fn a_stalling_server_is_cut_off_by_the_timeout() {
    let addr = serve().await;
    let fetcher = fetcher(FetchOptions { timeout: Duration::from_millis(300), ..local_options() });

    let started = Instant::now();
    let error = refused(&fetcher, &format!("http://{addr}/stall"), LIMIT).await;
    assert_eq!(error.message, "The URL took longer than 300 ms.");
    assert_eq!(error.code, "url_timeout");
    assert!(started.elapsed() < Duration::from_secs(5));

    // The same deadline covers the body.
    let started = Instant::now();
    let fetched = fetcher.fetch(&format!("http://{addr}/stall-body"), LIMIT).await.expect("headers come");
    let error = read_body(fetched).await.expect_err("the body stalls");
    assert_eq!(error.message, "The URL took longer than 300 ms.");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn http_failures_are_clear_errors() {
    let addr = serve().await;
    let fetcher = fetcher(local_options());
    let error = refused(&fetcher, &format!("http://{addr}/missing"), LIMIT).await;
    assert_eq!(error.message, "The URL answered 404 Not Found.");
    assert_eq!(error.code, "url_status");

    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind").local_addr().expect("addr");
    let error = refused(&fetcher, &format!("http://{closed}/x"), LIMIT).await;
    assert_eq!(error.message, "The URL could not be fetched: connection refused.");
    assert_eq!(error.code, "url_unreachable");

    // A server that hangs up without answering.
    let hangs_up = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/x", hangs_up.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((stream, _)) = hangs_up.accept().await {
            drop(stream);
        }
    });
    let error = refused(&fetcher, &url, LIMIT).await;
    assert!(error.message.starts_with("The URL could not be fetched: "), "{}", error.message);
    assert_eq!(error.code, "url_unreachable");
}
