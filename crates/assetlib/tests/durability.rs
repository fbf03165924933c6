//! Nothing acknowledged is lost: the real binary is SIGKILLed right after an acknowledged upload
//! and right after a zip is queued, restarted, and found whole.

mod common;

use common::{Backend, ServerProcess, wait_queue, zip_of};
use serde_json::Value;
use std::time::{Duration, Instant};

async fn upload(client: &reqwest::Client, base: &str, key: &str, path: &str, name: &str, bytes: Vec<u8>) -> Value {
    let res = common::upload(client, base, key, 1, Some(path), name, bytes).await;
    assert_eq!(res.status(), 200);
    res.json().await.expect("json")
}

#[tokio::test]
async fn an_acknowledged_upload_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backend = Backend::from_env("durability").await;
    let server = ServerProcess::start(&backend, &data, &[]);
    let key = server.initial_key();
    let client = reqwest::Client::new();
    let bodies: Vec<Vec<u8>> = (0..5u8).map(|i| (0..1_000_000u32).map(|n| (n as u8) ^ i).collect()).collect();
    for (i, body) in bodies.iter().enumerate() {
        upload(&client, &server.base, &key, "kept", &format!("f{i}.txt"), body.clone()).await;
    }
    // The instant the last upload is acknowledged: SIGKILL.
    server.kill9();

    let server = ServerProcess::start(&backend, &data, &[]);
    for (i, body) in bodies.iter().enumerate() {
        let res = client.get(format!("{}/files/1/kept/f{i}.txt", server.base)).send().await.unwrap();
        assert_eq!(res.status(), 200, "f{i}");
        assert_eq!(&res.bytes().await.unwrap()[..], &body[..], "f{i}");
    }
    assert!(server.terminate().success(), "graceful stop on SIGTERM");
}

#[tokio::test]
async fn a_queued_zip_is_fully_expanded_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backend = Backend::from_env("durability").await;
    let server = ServerProcess::start(&backend, &data, &[]);
    let key = server.initial_key();
    let client = reqwest::Client::new();
    let names: Vec<String> = (0..400).map(|i| format!("d{}/e{i:03}.txt", i % 7)).collect();
    let contents: Vec<Vec<u8>> = (0..400).map(|i| format!("entry {i}").repeat(200).into_bytes()).collect();
    let entries: Vec<(&str, &[u8])> =
        names.iter().map(String::as_str).zip(contents.iter().map(Vec::as_slice)).collect();
    let queued = upload(&client, &server.base, &key, "z", "batch.zip", zip_of(&entries)).await;
    let queue = queued["queueId"].as_str().unwrap().to_owned();
    server.kill9();

    let server = ServerProcess::start(&backend, &data, &[]);
    let status = wait_queue(&client, &server.base, &key, &queue).await;
    assert_eq!(status["status"], "Completed", "{status}");
    assert_eq!(status["totalItems"], 400);
    assert_eq!(status["totalProcessed"], 400);
    assert_eq!(status["message"], "Number of assets uploaded: 400");
    let mut listed = 0;
    for d in 0..7 {
        let res = client
            .get(format!("{}/v2/accounts/1/asset-library?prefix=z/d{d}&limit=1000", server.base))
            .header("jvx_apikey", &key)
            .send()
            .await
            .unwrap();
        listed += res.json::<Value>().await.unwrap()["files"].as_array().unwrap().len();
    }
    assert_eq!(listed, 400);
    for i in [0usize, 199, 399] {
        let res = client.get(format!("{}/files/1/z/{}", server.base, names[i])).send().await.unwrap();
        assert_eq!(&res.bytes().await.unwrap()[..], &contents[i][..]);
    }
    // The zip itself is removed once expanded.
    backend.wait_for_blobs(&data, "uploads", 0).await;
}

/// A crash in the middle of an upload leaves nothing visible, and its partial content is gone
/// shortly after the restart.
#[tokio::test]
async fn a_crash_mid_upload_leaves_nothing_for_long() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let grace = [("ASSETLIB_ORPHAN_GRACE_SECS", "1")];
    let backend = Backend::from_env("durability").await;
    let server = ServerProcess::start(&backend, &data, &grace);
    let key = server.initial_key();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    let url = format!("{}/v2/accounts/1/asset-library", server.base);
    let request = tokio::spawn(
        reqwest::Client::new()
            .post(url)
            .header("jvx_apikey", &key)
            .header("content-type", "multipart/form-data; boundary=B")
            .body(body)
            .send(),
    );
    let head = "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.txt\"\r\n\r\n";
    tx.send(Ok(head.as_bytes().to_vec())).await.unwrap();
    // More than S3's 5 MiB first part, so that a partial write exists on either backend.
    tx.send(Ok(vec![b'c'; 6 << 20])).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while backend.blob_count(&data, "").await == 0 {
        assert!(Instant::now() < deadline, "upload never reached the blob store");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill9();
    drop(tx);
    let _ = request.await;

    let server = ServerProcess::start(&backend, &data, &grace);
    let client = reqwest::Client::new();
    let res = client
        .get(format!("{}/v2/accounts/1/asset-library", server.base))
        .header("jvx_apikey", &key)
        .send()
        .await
        .unwrap();
    let listing: Value = res.json().await.unwrap();
    assert!(listing["files"].as_array().unwrap().is_empty());
    backend.wait_for_blobs(&data, "", 0).await;
}

/// The files of `folder` that a Jivox listing shows.
async fn listed(client: &reqwest::Client, base: &str, key: &str, folder: &str) -> Vec<Value> {
    let res = client
        .get(format!("{base}/v2/accounts/1/asset-library?prefix={folder}&limit=1000"))
        .header("jvx_apikey", key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["files"].as_array().unwrap().clone()
}

/// SIGKILL in the middle of a zip's expansion, some of its entries written (and not synced):
/// after the restart none of it is visible while the job waits, and once the job has run again
/// every entry is there, whole, and no blob of the first attempt is left over (the entries'
/// keys are the same on every attempt).
#[tokio::test]
async fn a_zip_killed_mid_expansion_shows_nothing_then_everything() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backend = Backend::from_env("durability").await;
    let server = ServerProcess::start(&backend, &data, &[]);
    let key = server.initial_key();
    let client = reqwest::Client::new();
    let n = 5000;
    let names: Vec<String> = (0..n).map(|i| format!("d{}/e{i:04}.txt", i % 5)).collect();
    let contents: Vec<Vec<u8>> = (0..n).map(|i| format!("entry {i} ").repeat(20 + i % 50).into_bytes()).collect();
    let entries: Vec<(&str, &[u8])> =
        names.iter().map(String::as_str).zip(contents.iter().map(Vec::as_slice)).collect();
    let queued = upload(&client, &server.base, &key, "mid", "batch.zip", zip_of(&entries)).await;
    let queue = queued["queueId"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    while backend.blob_count(&data, "assets/1/z").await == 0 {
        assert!(Instant::now() < deadline, "no entry was ever written");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    server.kill9();

    // No zip workers: the expansion waits, and nothing of the first attempt shows.
    let server = ServerProcess::start(&backend, &data, &[("ASSETLIB_WORKERS", "0")]);
    let res = client
        .get(format!("{}/v2/queues/{queue}/status", server.base))
        .header("jvx_apikey", &key)
        .send()
        .await
        .unwrap();
    let status: Value = res.json().await.unwrap();
    assert!(matches!(status["status"].as_str(), Some("Queued" | "Processing")), "{status}");
    for d in 0..5 {
        assert!(listed(&client, &server.base, &key, &format!("mid/d{d}")).await.is_empty(), "mid/d{d}");
    }
    server.kill9();

    let server = ServerProcess::start(&backend, &data, &[]);
    let status = wait_queue(&client, &server.base, &key, &queue).await;
    assert_eq!(status["status"], "Completed", "{status}");
    assert_eq!(status["totalItems"], n);
    assert_eq!(status["message"], format!("Number of assets uploaded: {n}"));
    for d in 0..5 {
        assert_eq!(listed(&client, &server.base, &key, &format!("mid/d{d}")).await.len(), n / 5, "mid/d{d}");
    }
    for i in [0usize, 1, 2499, 4998, 4999] {
        let res = client.get(format!("{}/files/1/mid/{}", server.base, names[i])).send().await.unwrap();
        assert_eq!(&res.bytes().await.unwrap()[..], &contents[i][..], "{}", names[i]);
    }
    backend.wait_for_blobs(&data, "assets/1/z", n).await;
    assert!(server.terminate().success(), "graceful stop on SIGTERM");
}
