//! Any mix of engines works: SQLite with S3, PostgreSQL with a local directory. Runs where the
//! scale-out services are configured (`ASSETLIB_TEST_BACKEND=postgres-s3`, as `scripts/test.sh`
//! does); elsewhere it says it was skipped.

mod common;

use common::{Backend, TestApp, png, zip_of};

/// Upload, list, serve, expand a zip, replace and delete on one server.
async fn exercise(app: &TestApp) {
    app.put(Some("mix"), "a.png", png()).await;
    let queue = app.put(Some("mix/z"), "two.zip", zip_of(&[("b.txt", b"bee"), ("c/d.txt", b"dee")])).await;
    assert_eq!(app.wait_queue(&queue).await["status"], "Completed");
    let (_, listing) = app.get_json(&app.key, "/v2/accounts/1/asset-library?prefix=mix").await;
    assert_eq!(listing["files"][0]["name"], "a.png");
    assert_eq!(listing["folders"], serde_json::json!(["z"]));
    let res = app.client.get(app.url("/files/1/mix/z/c/d.txt")).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "dee");
    app.put(Some("mix"), "a.png", b"replaced".to_vec()).await;
    let res = app.client.get(app.url("/files/1/mix/a.png")).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "replaced");
    let (status, _) = app.delete_json(&app.key, "/v2/accounts/1/asset-library?command=deleteFolder&path=mix").await;
    assert_eq!(status, 200);
    app.wait_for_blobs("assets", 0).await;
}

#[tokio::test]
async fn sqlite_with_s3() {
    let full = Backend::from_env("sqlite with s3").await;
    let Some(s3) = full.s3 else {
        eprintln!("sqlite with s3: skipped: no S3 configured for this run");
        return;
    };
    let mix = Backend { database_url: None, s3: Some(s3), database_guard: None };
    let app = TestApp::spawn_on(mix).await;
    assert!(app.config.database_url.is_none(), "SQLite in the data dir");
    exercise(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn postgres_with_a_local_directory() {
    let full = Backend::from_env("postgres with local").await;
    let Some(url) = full.database_url.clone() else {
        eprintln!("postgres with local: skipped: no PostgreSQL configured for this run");
        return;
    };
    let mix = Backend { database_url: Some(url), s3: None, database_guard: full.database_guard.clone() };
    let app = TestApp::spawn_on(mix).await;
    assert!(app.config.blob_store.is_none(), "blobs in the data dir");
    exercise(&app).await;
    app.stop().await;
}
