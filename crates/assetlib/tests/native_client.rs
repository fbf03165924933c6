//! The typed client (`assetlib-client`) against the real server: every call of the native API
//! through the same wire types the server answers with, the problems it turns errors into,
//! and the shapes of the answers pinned by snapshots.

mod common;

use assetlib_client::api::{AssetPatch, BatchDeleteRequest, CollectionBody, CopyRequest, KeyRequest, LinkRequest};
use assetlib_client::{Client, Error, Search, Uploaded};
use common::TestApp;
use serde_json::json;

fn client(app: &TestApp, key: &str) -> Client {
    Client::with_http(app.client.clone(), app.url(""), key)
}

#[track_caller]
fn problem(e: Error, code: &str, param: Option<&str>) {
    match e {
        Error::Problem(p) => assert_eq!((p.code.as_str(), p.param.as_deref()), (code, param), "{p:?}"),
        other => panic!("not a problem: {other}"),
    }
}

#[tokio::test]
async fn the_client_speaks_every_route() {
    let app = TestApp::spawn().await;
    let c = client(&app, &app.key);
    let me = c.me().await.unwrap();
    assert_eq!((me.accounts.len(), me.accounts[0].id, me.accounts[0].role.as_str()), (1, 1, "owner"));

    // Uploads: created, replaced, multipart, zip.
    let Uploaded::Created(logo) = c.upload(1, "brand/logo.png", common::png()).await.unwrap() else { panic!() };
    let Uploaded::Replaced(again) = c.upload(1, "brand/logo.png", common::png()).await.unwrap() else { panic!() };
    assert_eq!(again.id, logo.id);
    let Uploaded::Created(hero) = c.upload_file(1, Some("brand"), "hero.png", common::png()).await.unwrap() else {
        panic!()
    };
    assert_eq!(hero.key, "brand/hero.png");
    let zip = common::zip_of(&[("a.png", &common::png()[..])]);
    let Uploaded::Accepted(upload) = c.upload(1, "kit/kit.zip", zip).await.unwrap() else { panic!() };
    let mut status = upload.status.clone();
    for _ in 0..600 {
        status = c.upload_status(1, &upload.id).await.unwrap().status;
        if status != "queued" && status != "processing" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, "completed");
    problem(c.upload(1, "../x.png", common::png()).await.unwrap_err(), "invalid_parameter", Some("key"));

    // Read, patch with If-Match, search.
    let (asset, etag) = c.asset(1, &logo.id).await.unwrap();
    assert_eq!(asset.key, "brand/logo.png");
    let patch = AssetPatch { tags: Some(Some(vec!["hero".into()])), ..AssetPatch::default() };
    let patched = c.patch_asset(1, &logo.id, &patch, Some(&etag)).await.unwrap();
    assert_eq!(patched.tags, ["hero"]);
    let stale = c.patch_asset(1, &logo.id, &patch, Some(&etag)).await.unwrap_err();
    problem(stale, "precondition_failed", Some("If-Match"));
    let page = c.search(1, &Search::new().tag("hero")).await.unwrap();
    assert_eq!((page.items.len(), page.items[0].id.as_str(), page.next_cursor), (1, logo.id.as_str(), None));
    let page = c.search(1, &Search::new().path_prefix("brand").sort("name").limit(1)).await.unwrap();
    assert_eq!(page.items[0].name, "hero.png");
    let second = Search::new().path_prefix("brand").sort("name").limit(1).cursor(&page.next_cursor.unwrap());
    assert_eq!(c.search(1, &second).await.unwrap().items[0].name, "logo.png");
    problem(c.search(1, &Search::new().with("nope", 1)).await.unwrap_err(), "invalid_parameter", Some("nope"));

    // Content, copy, links.
    assert_eq!(c.content(1, &logo.id).await.unwrap(), common::png());
    let copy = CopyRequest { destination_key: "brand/copy.png".into(), overwrite: false };
    let (copied, replaced) = c.copy(1, &logo.id, &copy).await.unwrap();
    assert!(!replaced && copied.id != logo.id);
    problem(c.copy(1, &logo.id, &copy).await.unwrap_err(), "conflict", Some("destinationKey"));
    let (_, replaced) = c.copy(1, &logo.id, &CopyRequest { overwrite: true, ..copy }).await.unwrap();
    assert!(replaced);
    let link = c.link(1, &logo.id, &LinkRequest { expires_in: Some(60), ..LinkRequest::default() }).await.unwrap();
    let bytes = app.client.get(&link.url).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(bytes, common::png());

    // The tree and folders.
    c.create_folder(1, "brand/empty").await.unwrap();
    problem(c.create_folder(1, "brand/empty").await.unwrap_err(), "conflict", Some("path"));
    let tree = c.tree(1, "brand", None, None).await.unwrap();
    assert_eq!(tree.entries.len(), 4, "{tree:?}");
    c.delete_folder(1, "brand/empty", false).await.unwrap();
    problem(c.tree(1, "brand/empty", None, None).await.unwrap_err(), "not_found", None);
    let folders = c.subfolders(1, "", None, None).await.unwrap();
    assert!(folders.entries.iter().all(|e| matches!(e, assetlib_client::api::TreeEntry::Folder { .. })), "{folders:?}");
    assert!(!folders.entries.is_empty());

    // Collections.
    let col = c.create_collection(1, &CollectionBody { name: Some("Spring".into()), description: None }).await.unwrap();
    let patch = AssetPatch { collection_ids: Some(Some(vec![col.id.clone()])), ..AssetPatch::default() };
    c.patch_asset(1, &logo.id, &patch, None).await.unwrap();
    assert_eq!(c.collection(1, &col.id).await.unwrap().asset_count, 1);
    let renamed = CollectionBody { name: Some("Summer".into()), description: Some("d".into()) };
    assert_eq!(c.update_collection(1, &col.id, &renamed).await.unwrap().name, "Summer");
    assert_eq!(c.collections(1, None, Some(10)).await.unwrap().items.len(), 1);
    c.delete_collection(1, &col.id).await.unwrap();
    problem(c.collection(1, &col.id).await.unwrap_err(), "not_found", None);

    // Keys.
    let key = c.create_key(1, &KeyRequest { name: "ci".into(), read_only: true }).await.unwrap();
    let secret = key.key.clone().unwrap();
    let ro = client(&app, &secret);
    assert_eq!(ro.me().await.unwrap().user.id, me.user.id);
    problem(ro.upload(1, "x.png", common::png()).await.unwrap_err(), "forbidden", None);
    assert!(c.keys(1, None, None).await.unwrap().items.iter().any(|k| k.id == key.id && k.key.is_none()));
    c.delete_key(1, &key.id).await.unwrap();
    problem(ro.me().await.unwrap_err(), "unauthenticated", None);

    // Deletes.
    let batch = BatchDeleteRequest { ids: Some(vec![copied.id.clone(), "ast_none".into()]), keys: None };
    let done = c.batch_delete(1, &batch).await.unwrap();
    assert_eq!((done.deleted, done.failed[0].id.as_deref()), (vec![copied.id.clone()], Some("ast_none")));
    c.delete_asset(1, &hero.id).await.unwrap();
    problem(c.asset(1, &hero.id).await.unwrap_err(), "not_found", None);
    problem(c.delete_asset(1, &hero.id).await.unwrap_err(), "not_found", None);
    // Another account's key sees none of it.
    app.account(2).await;
    let theirs = client(&app, &app.user(2, assetlib_core::model::Role::Owner).await);
    problem(theirs.asset(1, &logo.id).await.unwrap_err(), "not_found", None);
    problem(theirs.asset(2, &logo.id).await.unwrap_err(), "not_found", None);
    assert!(theirs.search(2, &Search::new()).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn answer_shapes_are_pinned() {
    let app = TestApp::spawn().await;
    let c = client(&app, &app.key);
    let Uploaded::Created(asset) = c.upload(1, "shapes/a.png", common::real_png()).await.unwrap() else { panic!() };
    let col = c.create_collection(1, &CollectionBody { name: Some("C".into()), description: None }).await.unwrap();
    let patch = AssetPatch {
        tags: Some(Some(vec!["t".into()])),
        skus: Some(Some(vec!["S-1".into()])),
        metadata: Some(Some(json!({ "campaign": "spring" }).as_object().unwrap().clone())),
        collection_ids: Some(Some(vec![col.id.clone()])),
        batch_id: Some(Some("b-1".into())),
        approved: Some(true),
        expires_at: Some(Some("2030-01-01T00:00:00Z".into())),
        favorite: Some(true),
        ..AssetPatch::default()
    };
    c.patch_asset(1, &asset.id, &patch, None).await.unwrap();
    // Its renditions made, so that `versions` shows them.
    app.settle_jobs().await;
    let raw = |path: String| {
        let app = &app;
        async move {
            let res = app.client.get(app.url(&path)).bearer_auth(&app.key).send().await.unwrap();
            res.json::<serde_json::Value>().await.unwrap()
        }
    };
    let times = [".**.createdAt", ".**.lastModified", ".**.approvedAt"];
    let mut settings = insta::Settings::clone_current();
    // Values that change from run to run are redacted; a null stays null (but `lastUsedAt`,
    // written in the background, may be either).
    let keep_null = |label: &'static str| {
        insta::dynamic_redaction(move |value, _| if value.is_nil() { value } else { label.into() })
    };
    for t in times {
        settings.add_redaction(t, keep_null("[time]"));
    }
    settings.add_redaction(".**.lastUsedAt", "[time or null]");
    for field in [".**.id", ".**.hash", ".**.createdBy", ".**.userId", ".**.url", ".**.collectionIds[]"] {
        settings.add_redaction(field, keep_null("[id]"));
    }
    settings
        .bind_async(async {
            insta::assert_json_snapshot!("native_asset", raw(format!("/api/v1/accounts/1/assets/{}", asset.id)).await);
            insta::assert_json_snapshot!("native_search", raw("/api/v1/accounts/1/assets?tag=t".into()).await);
            insta::assert_json_snapshot!("native_tree", raw("/api/v1/accounts/1/tree?path=shapes".into()).await);
            insta::assert_json_snapshot!("native_collections", raw("/api/v1/accounts/1/collections".into()).await);
            insta::assert_json_snapshot!("native_keys", raw("/api/v1/accounts/1/keys".into()).await);
            insta::assert_json_snapshot!("native_problem", raw("/api/v1/accounts/1/assets?limit=0".into()).await);
        })
        .await;
}
