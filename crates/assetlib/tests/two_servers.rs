//! Two servers, one library (issue: scale-out): any number of `assetlib serve` processes on one
//! PostgreSQL database and one S3 bucket behave as one library. Runs on the scale-out backend
//! (`ASSETLIB_TEST_BACKEND=postgres-s3`, as `scripts/test.sh` does); the embedded default is one
//! process by design, so there each test says it was skipped.

mod common;

use common::{TestApp, png, zip_of};
use futures::future::join_all;

async fn pair(test: &str) -> Option<(TestApp, TestApp)> {
    let a = TestApp::spawn().await;
    if a.backend.s3.is_none() {
        eprintln!("{test}: skipped: the embedded default serves from one process");
        a.stop().await;
        return None;
    }
    let b = TestApp::spawn_beside(&a).await;
    Some((a, b))
}

#[tokio::test]
async fn an_upload_through_one_is_listed_and_served_by_the_other() {
    let Some((a, b)) = pair("upload").await else { return };
    a.put(Some("shared"), "one.png", png()).await;
    let (status, listing) = b.get_json(&b.key, "/v2/accounts/1/asset-library?prefix=shared").await;
    assert_eq!(status, 200);
    assert_eq!(listing["files"][0]["name"], "one.png");
    let res = b.client.get(b.url("/files/1/shared/one.png")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().to_vec(), png());
    // The queue entry is readable through either.
    let queue = b.put(Some("shared"), "two.png", png()).await;
    assert_eq!(a.wait_queue(&queue).await["status"], "Completed");
    // A delete through one is seen by the other.
    let (status, _) =
        b.delete_json(&b.key, "/v2/accounts/1/asset-library?command=deleteFile&path=shared&file=one.png").await;
    assert_eq!(status, 200);
    let (_, listing) = a.get_json(&a.key, "/v2/accounts/1/asset-library?prefix=shared").await;
    assert_eq!(listing["files"].as_array().unwrap().len(), 1);
    a.stop().await;
    b.stop().await;
}

/// Both servers run workers; the zip's job is claimed by one of them, once.
#[tokio::test]
async fn a_zip_uploaded_through_one_is_expanded_exactly_once() {
    let Some((a, b)) = pair("zip").await else { return };
    let names: Vec<String> = (0..60).map(|i| format!("z{i:02}.txt")).collect();
    let bodies: Vec<Vec<u8>> = (0..60).map(|i| format!("entry {i}").into_bytes()).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(String::as_str).zip(bodies.iter().map(Vec::as_slice)).collect();
    let queue = a.put(Some("zz"), "batch.zip", zip_of(&entries)).await;
    let status = b.wait_queue(&queue).await;
    assert_eq!(status["status"], "Completed", "{status}");
    assert_eq!((status["totalItems"].as_u64(), status["totalProcessed"].as_u64()), (Some(60), Some(60)));
    let (_, listing) = b.get_json(&b.key, "/v2/accounts/1/asset-library?prefix=zz&limit=1000").await;
    assert_eq!(listing["files"].as_array().unwrap().len(), 60);
    // Expanded once: one blob per entry and the zip itself gone, once cleanup has run.
    a.wait_for_blobs("assets", 60).await;
    a.wait_for_blobs("uploads", 0).await;
    a.stop().await;
    b.stop().await;
}

/// Racing overwrites of one key through both servers leave one whole file and no orphan.
#[tokio::test]
async fn racing_overwrites_through_both_leave_one_whole_file() {
    let Some((a, b)) = pair("race").await else { return };
    let bodies: Vec<Vec<u8>> = (0..16u8).map(|i| vec![b'a' + i; 200_000 + i as usize]).collect();
    let uploads = bodies.iter().enumerate().map(|(i, body)| {
        let server = if i % 2 == 0 { &a } else { &b };
        server.upload(&server.key, 1, Some("race"), "same.txt", body.clone())
    });
    for res in join_all(uploads).await {
        assert_eq!(res.status(), 200);
    }
    for server in [&a, &b] {
        let (_, listing) = server.get_json(&server.key, "/v2/accounts/1/asset-library?prefix=race").await;
        assert_eq!(listing["files"].as_array().unwrap().len(), 1);
    }
    let served = b.client.get(b.url("/files/1/race/same.txt")).send().await.unwrap().bytes().await.unwrap();
    assert!(bodies.iter().any(|body| body[..] == served[..]), "not one of the uploads, whole");
    a.wait_for_blobs("assets", 1).await;
    a.stop().await;
    b.stop().await;
}

/// Servers starting together on an empty store: one makes account 1 and its owner, the others
/// start all the same.
#[tokio::test]
async fn servers_starting_together_on_an_empty_store_all_start() {
    let backend = common::Backend::from_env("start together").await;
    if backend.s3.is_none() {
        eprintln!("start together: skipped: the embedded default serves from one process");
        return;
    }
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let configs: Vec<assetlib::config::Config> = dirs
        .iter()
        .map(|d| {
            let mut c = common::test_config(d.path());
            backend.apply(&mut c);
            c
        })
        .collect();
    let started = join_all(configs.iter().map(assetlib::start)).await;
    let mut made = 0;
    let mut running = vec![];
    for r in started {
        let r = r.expect("every server starts");
        made += usize::from(r.initial_credentials.is_some());
        running.push(r);
    }
    assert_eq!(made, 1, "exactly one server made the first owner");
    for r in running {
        r.stop().await.unwrap();
    }
}

/// A key revoked through one server stops working there at once, and on the other once its
/// cached lookup expires (`lookup_cache_ms`, 2 s in the tests' configuration).
#[tokio::test]
async fn a_key_revoked_through_one_stops_on_the_other_within_the_cache_time() {
    let Some((a, b)) = pair("revoke").await else { return };
    let owner = assetlib_client::Client::with_http(a.client.clone(), a.url(""), a.key.clone());
    let request = assetlib_client::api::KeyRequest { name: "ci".into(), read_only: false };
    let secret = owner.create_key(1, &request).await.unwrap().key.unwrap();
    let on_a = assetlib_client::Client::with_http(a.client.clone(), a.url(""), secret.clone());
    let on_b = assetlib_client::Client::with_http(b.client.clone(), b.url(""), secret);
    on_a.me().await.unwrap();
    on_b.me().await.unwrap(); // now in b's cache
    let id = owner.keys(1, None, None).await.unwrap().items.into_iter().find(|k| k.name == "ci").unwrap().id;
    owner.delete_key(1, &id).await.unwrap();
    assert_eq!(on_a.me().await.unwrap_err().code(), Some("unauthenticated"), "at once on the server that revoked it");
    let ttl = std::time::Duration::from_millis(a.config.lookup_cache_ms);
    let started = std::time::Instant::now();
    loop {
        match on_b.me().await {
            Err(e) => {
                assert_eq!(e.code(), Some("unauthenticated"));
                break;
            }
            Ok(_) => {
                assert!(started.elapsed() <= ttl + std::time::Duration::from_millis(500), "still works after the TTL")
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    a.stop().await;
    b.stop().await;
}
