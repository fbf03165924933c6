//! The sweep for blobs nothing references: it removes what a crash or a failed cleanup left,
//! and never the content of an upload still in flight.

mod common;

use assetlib_core::library::uploads::Zips;
use assetlib_core::{AccountId, BlobKey};
use common::{TestApp, png};
use std::time::Duration;

#[tokio::test]
async fn the_sweep_removes_old_unreferenced_blobs_only() {
    let app = TestApp::spawn().await;
    let store = app.backend.blob_store(&app.config.data_dir);
    app.put(Some("kept"), "asset.png", png()).await;
    // Left behind long ago: an orphan among assets, and an upload's zip nothing points at.
    for key in ["assets/1/zz/orphan", "uploads/1/0123456789abcdef0123456789abcdef.zip"] {
        store.put(&BlobKey(key.into()), assetlib_blobs::once(png())).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // In flight now: received, not yet committed.
    let owner = app.owner().await;
    let body = futures::stream::once(async { Ok(bytes::Bytes::from_static(b"in flight")) });
    let received =
        app.lib().receive(&owner, AccountId(1), None, "late.txt", Box::pin(body), Zips::Expand).await.unwrap();
    assert_eq!(app.blob_count("assets").await, 3);

    let removed = app.lib().sweep_orphans(Duration::from_secs(2)).await.unwrap();
    assert_eq!(removed, 2);
    assert_eq!(app.blob_count("assets").await, 2, "the asset's blob and the one in flight stay");
    assert_eq!(app.blob_count("uploads").await, 0);
    // The in-flight upload still completes.
    app.lib().commit_upload(received, "late").await.unwrap();
    let res = app.client.get(app.url("/files/1/late/late.txt")).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "in flight");
    let res = app.client.get(app.url("/files/1/kept/asset.png")).send().await.unwrap();
    assert_eq!(res.bytes().await.unwrap().to_vec(), png());
    app.stop().await;
}
