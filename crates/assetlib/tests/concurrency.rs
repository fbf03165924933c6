//! Parallel uploads, racing overwrites of one key, and cleanup of content that never became an
//! asset.

mod common;

use common::TestApp;
use futures::future::join_all;
use std::time::{Duration, Instant};

#[tokio::test]
async fn parallel_uploads_all_land() {
    let app = TestApp::spawn().await;
    let bodies: Vec<Vec<u8>> =
        (0..48u32).map(|i| format!("file {i} ").repeat(1000 + i as usize).into_bytes()).collect();
    let names: Vec<String> = (0..bodies.len()).map(|i| format!("f{i:02}.txt")).collect();
    let uploads = bodies.iter().zip(&names).map(|(b, name)| app.upload(&app.key, 1, Some("par"), name, b.clone()));
    for res in join_all(uploads).await {
        assert_eq!(res.status(), 200);
    }
    let (_, listing) = app.get_json(&app.key, "/v2/accounts/1/asset-library?prefix=par&limit=1000").await;
    assert_eq!(listing["files"].as_array().unwrap().len(), 48);
    for (i, body) in bodies.iter().enumerate() {
        let got =
            app.client.get(app.url(&format!("/files/1/par/f{i:02}.txt"))).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(&got[..], &body[..], "f{i:02}");
    }
    app.stop().await;
}

/// Racing writes to one key leave one whole file (one of those sent, never a mix), one asset,
/// and, once cleanup has run, exactly one blob.
#[tokio::test]
async fn racing_overwrites_leave_one_whole_file_and_no_orphans() {
    let app = TestApp::spawn().await;
    let bodies: Vec<Vec<u8>> = (0..24u8).map(|i| vec![b'a' + (i % 26); 300_000 + i as usize]).collect();
    let uploads = bodies.iter().map(|b| app.upload(&app.key, 1, Some("race"), "one.txt", b.clone()));
    for res in join_all(uploads).await {
        assert_eq!(res.status(), 200);
    }
    let (_, listing) = app.get_json(&app.key, "/v2/accounts/1/asset-library?prefix=race").await;
    assert_eq!(listing["files"].as_array().unwrap().len(), 1);
    let served = app.client.get(app.url("/files/1/race/one.txt")).send().await.unwrap().bytes().await.unwrap();
    assert!(bodies.iter().any(|b| b[..] == served[..]), "served content is not one of the uploads");
    app.wait_for_blobs("assets", 1).await;
    app.stop().await;
}

/// Content received but never committed (a crash between the blob write and the row commit
/// looks like this) is removed once the grace period has passed.
#[tokio::test]
async fn content_that_never_became_an_asset_is_removed() {
    let app = TestApp::spawn_with(|c| c.orphan_grace_secs = 1).await;
    let owner = app.owner().await;
    let body = futures::stream::once(async { Ok(bytes::Bytes::from_static(b"orphan")) });
    let received = app
        .lib()
        .receive(
            &owner,
            assetlib_core::AccountId(1),
            None,
            "o.txt",
            Box::pin(body),
            assetlib_core::library::uploads::Zips::Expand,
        )
        .await
        .expect("received");
    assert_eq!(app.blob_count("assets").await, 1);
    drop(received); // never committed
    app.wait_for_blobs("assets", 0).await;
    app.stop().await;
}

/// A client that goes away mid-upload leaves nothing: no asset, no blob, no partial file.
#[tokio::test]
async fn an_aborted_upload_leaves_nothing() {
    let app = TestApp::spawn().await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
    let boundary = "XBOUNDARYX";
    let url = app.url("/v2/accounts/1/asset-library");
    let client = app.client.clone();
    let key = app.key.clone();
    let request = tokio::spawn(async move {
        client
            .post(url)
            .header("jvx_apikey", key)
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
    });
    let head =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"partial.txt\"\r\n\r\n");
    tx.send(Ok(head.into_bytes())).await.unwrap();
    // More than S3's 5 MiB first part, so that a partial write exists on either backend.
    tx.send(Ok(vec![b'p'; 6 << 20])).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.blob_count("").await == 0 {
        assert!(Instant::now() < deadline, "upload never reached the blob store");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tx.send(Err(std::io::Error::other("client gone"))).await.unwrap();
    drop(tx);
    let _ = request.await;
    app.wait_for_blobs("", 0).await;
    let (_, listing) = app.get_json(&app.key, "/v2/accounts/1/asset-library").await;
    assert!(listing["files"].as_array().unwrap().is_empty());
    app.stop().await;
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
