//! The native API's content and tree routes (SPEC 5.4) over HTTP: upload (raw, multipart,
//! zip), content with ranges and validators, copy, delete and batch delete, the tree, folders,
//! upload status, and PATCH's rename and `If-Match`; with the hostile cases of each.

mod common;

use assetlib_core::model::Role;
use common::TestApp;
use common::native::{Api, problem};
use reqwest::Method;
use serde_json::{Value, json};

/// Uploads `bytes` as the raw body at `key` of account 1.
async fn put_raw(app: &TestApp, key: &str, bytes: &[u8]) -> (u16, Value) {
    let res = app
        .client
        .post(app.url(&format!("/api/v1/accounts/1/assets?key={key}")))
        .header("authorization", format!("Bearer {}", app.key))
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

async fn put_form(app: &TestApp, key: &str, form: reqwest::multipart::Form) -> (u16, Value) {
    let res = app
        .client
        .post(app.url("/api/v1/accounts/1/assets"))
        .header("authorization", format!("Bearer {key}"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

fn file_part(name: &str, bytes: Vec<u8>) -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned())
}

#[tokio::test]
async fn uploads_raw_multipart_and_zip() {
    let app = TestApp::spawn().await;
    let api = Api { app: &app };
    let png = common::png();

    // A raw body at ?key=: 201 with the asset; the same key again replaces it (200, same id).
    let (status, asset) = put_raw(&app, "brand/logo.png", &png).await;
    assert_eq!(status, 201, "{asset}");
    assert_eq!((asset["key"].as_str(), asset["path"].as_str()), (Some("brand/logo.png"), Some("brand")));
    assert_eq!((asset["size"].as_u64(), asset["contentType"].as_str()), (Some(png.len() as u64), Some("image/png")));
    assert_eq!(asset["createdBy"], api.get(&app.key, "/api/v1/me").await.1["user"]["id"]);
    let (status, again) = put_raw(&app, "brand/logo.png", b"other bytes").await;
    assert_eq!((status, &again["id"]), (200, &asset["id"]), "{again}");
    assert_eq!(again["size"], 11);

    // Multipart: `file` and an optional `path` (the folder).
    let form =
        reqwest::multipart::Form::new().text("path", "brand/2026").part("file", file_part("hero.png", png.clone()));
    let (status, hero) = put_form(&app, &app.key, form).await;
    assert_eq!((status, hero["key"].as_str()), (201, Some("brand/2026/hero.png")), "{hero}");

    // A zip is expanded by a job: 202 {upload}, whose status the uploads route answers.
    let zip = common::zip_of(&[("a.png", &png), ("sub/b.png", &png), ("bad.exe", b"MZ")]);
    let form = reqwest::multipart::Form::new().text("path", "kit").part("file", file_part("kit.zip", zip));
    let (status, body) = put_form(&app, &app.key, form).await;
    assert_eq!(status, 202, "{body}");
    let id = body["upload"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["upload"]["status"], "queued");
    let mut upload = Value::Null;
    for _ in 0..600 {
        upload = api.get(&app.key, &format!("/api/v1/accounts/1/uploads/{id}")).await.1;
        if !matches!(upload["status"].as_str(), Some("queued" | "processing")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(upload["status"], "completed_with_errors", "{upload}");
    assert_eq!((upload["totalItems"].as_u64(), upload["totalProcessed"].as_u64()), (Some(3), Some(3)), "{upload}");
    assert_eq!(upload["errors"][0]["entry"], "kit/bad.exe", "{upload}");
    assert!(upload["errors"][0]["reason"].is_string());
    let (status, tree) = api.get(&app.key, "/api/v1/accounts/1/tree?path=kit").await;
    assert_eq!(status, 200, "{tree}");
    assert_eq!(tree["entries"][0]["asset"]["key"], "kit/a.png");
    assert_eq!(tree["entries"][1], json!({ "type": "folder", "name": "sub", "path": "kit/sub" }));
    // A folder tree's level: the folders only, paged by cursor like the whole level.
    for name in ["kit/b-dir", "kit/c-dir", "kit/sub/deeper"] {
        assert_eq!(
            api.send(&app.key, Method::POST, "/api/v1/accounts/1/folders", json!({ "path": name })).await.0,
            201
        );
    }
    let (status, page) = api.get(&app.key, "/api/v1/accounts/1/tree?path=kit&type=folder&limit=2").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        page["entries"],
        json!([
            { "type": "folder", "name": "b-dir", "path": "kit/b-dir" },
            { "type": "folder", "name": "c-dir", "path": "kit/c-dir" },
        ])
    );
    let cursor = page["nextCursor"].as_str().unwrap().to_owned();
    let (_, rest) =
        api.get(&app.key, &format!("/api/v1/accounts/1/tree?path=kit&type=folder&limit=2&cursor={cursor}")).await;
    assert_eq!(rest["entries"], json!([{ "type": "folder", "name": "sub", "path": "kit/sub" }]), "{rest}");
    assert_eq!(rest["nextCursor"], Value::Null);
    let (_, root) = api.get(&app.key, "/api/v1/accounts/1/tree?type=folder").await;
    let names: Vec<&str> = root["entries"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(names, ["brand", "kit"], "{root}");
    problem(
        &api.get(&app.key, "/api/v1/accounts/1/tree?path=kit&type=asset").await,
        400,
        "invalid_parameter",
        Some("type"),
    );
    problem(&api.get(&app.key, "/api/v1/accounts/1/tree?path=nope&type=folder").await, 404, "not_found", None);
    problem(
        &api.get(&app.key, "/api/v1/accounts/1/tree?type=folder&cursor=zzz").await,
        400,
        "invalid_parameter",
        Some("cursor"),
    );

    // Refused: no key, an unknown parameter, a bad key, a stray field; nothing is stored.
    let res = app
        .client
        .post(app.url("/api/v1/accounts/1/assets"))
        .header("authorization", format!("Bearer {}", app.key))
        .body(png.clone())
        .send()
        .await
        .unwrap();
    let got = (res.status().as_u16(), res.json::<Value>().await.unwrap());
    problem(&got, 400, "invalid_parameter", Some("key"));
    problem(&put_raw(&app, "x.png&size=1", &png).await, 400, "invalid_parameter", Some("size"));
    problem(&put_raw(&app, "../x.png", &png).await, 400, "invalid_parameter", Some("key"));
    problem(&put_raw(&app, "x.exe", b"MZ").await, 400, "invalid_parameter", Some("key"));
    let form = reqwest::multipart::Form::new().text("folder", "x").part("file", file_part("y.png", png.clone()));
    problem(&put_form(&app, &app.key, form).await, 400, "invalid_body", Some("folder"));
    let form = reqwest::multipart::Form::new().text("path", "x");
    problem(&put_form(&app, &app.key, form).await, 400, "invalid_body", Some("file"));
    // A viewer may not upload; another account is not there; an upload of account 2 is not seen.
    let viewer = app.user(1, Role::Viewer).await;
    let form = reqwest::multipart::Form::new().part("file", file_part("v.png", png.clone()));
    problem(&put_form(&app, &viewer, form).await, 403, "forbidden", None);
    app.account(2).await;
    let theirs = app.user(2, Role::Owner).await;
    let got = api.call(Some(&theirs), Method::GET, &format!("/api/v1/accounts/1/uploads/{id}"), None).await;
    problem(&(got.0, got.1), 404, "not_found", None);
    let got = api.call(Some(&theirs), Method::GET, &format!("/api/v1/accounts/2/uploads/{id}"), None).await;
    problem(&(got.0, got.1), 404, "not_found", None);
    let (_, all) = api.get(&app.key, "/api/v1/accounts/1/assets?limit=100").await;
    let keys: Vec<&str> = all["items"].as_array().unwrap().iter().map(|a| a["key"].as_str().unwrap()).collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert!(!keys.iter().any(|k| k.contains("x.") || k.contains("y.png") || k.contains("v.png")), "{keys:?}");
}

#[tokio::test]
async fn uploads_over_the_limit_are_refused_and_leave_nothing() {
    let app = TestApp::spawn_with(|c| c.max_upload_size = 1024).await;
    let api = Api { app: &app };
    problem(&put_raw(&app, "big.txt", &[b'x'; 4096]).await, 413, "too_large", None);
    let form = reqwest::multipart::Form::new().part("file", file_part("big.txt", vec![b'x'; 4096]));
    problem(&put_form(&app, &app.key, form).await, 413, "too_large", None);
    assert_eq!(put_raw(&app, "small.txt", &[b'x'; 1024]).await.0, 201);
    let (_, all) = api.get(&app.key, "/api/v1/accounts/1/assets").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1, "{all}");
    // Nothing of the refused bodies is left in the blob store (the accepted one only).
    assert_eq!((app.blob_count("assets").await, app.blob_count("uploads").await), (1, 0));
}

#[tokio::test]
async fn content_copy_and_delete() {
    let app = TestApp::spawn().await;
    let api = Api { app: &app };
    let bytes: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let (_, asset) = put_raw(&app, "docs/data.txt", &bytes).await;
    let id = asset["id"].as_str().unwrap().to_owned();
    let content = format!("/api/v1/accounts/1/assets/{id}/content");

    // The bytes, a range, and a 304 for the ETag it gave.
    let res = app.client.get(app.url(&content)).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(res.bytes().await.unwrap(), bytes);
    let res = app.client.get(app.url(&content)).bearer_auth(&app.key).header("range", "bytes=10-19").send().await;
    let res = res.unwrap();
    assert_eq!((res.status().as_u16(), res.headers()["content-range"].to_str().unwrap()), (206, "bytes 10-19/10000"));
    assert_eq!(res.bytes().await.unwrap(), bytes[10..20]);
    let res = app.client.get(app.url(&content)).bearer_auth(&app.key).header("if-none-match", &etag).send().await;
    assert_eq!(res.unwrap().status(), 304);
    // Archived assets are still the caller's to read; an unknown version is 404.
    app.lib()
        .update_asset(
            &app.owner().await,
            assetlib_core::AccountId(1),
            &assetlib_core::AssetId(id.clone()),
            assetlib_core::model::AssetPatch { archived: Some(true), ..Default::default() },
        )
        .await
        .unwrap();
    let res = app.client.get(app.url(&content)).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!(res.status(), 200);
    problem(&api.get(&app.key, &format!("{content}?version=thumbnail")).await, 404, "not_found", Some("version"));
    problem(&api.get(&app.key, &format!("{content}?size=1")).await, 400, "invalid_parameter", Some("size"));
    app.account(2).await;
    let theirs = app.user(2, Role::Owner).await;
    let res = app.client.get(app.url(&content)).bearer_auth(&theirs).send().await.unwrap();
    assert_eq!(res.status(), 404, "another account's key");
    let res = app.client.get(app.url(&content.replace("/1/", "/2/"))).bearer_auth(&theirs).send().await.unwrap();
    assert_eq!(res.status(), 404, "another account's id through one's own account");

    // Copy: 201 with a new id and the same content; onto a taken key 409 unless overwrite (200).
    let copy = format!("/api/v1/accounts/1/assets/{id}/copy");
    let (status, c) = api.send(&app.key, Method::POST, &copy, json!({ "destinationKey": "docs/copy.txt" })).await;
    assert_eq!(status, 201, "{c}");
    assert_ne!(c["id"], asset["id"]);
    assert_eq!(c["hash"], asset["hash"]);
    let got = api.send(&app.key, Method::POST, &copy, json!({ "destinationKey": "docs/copy.txt" })).await;
    problem(&got, 409, "conflict", Some("destinationKey"));
    let (status, over) =
        api.send(&app.key, Method::POST, &copy, json!({ "destinationKey": "docs/copy.txt", "overwrite": true })).await;
    assert_eq!((status, &over["id"]), (200, &c["id"]), "a replaced asset keeps its id: {over}");
    let got = api.send(&app.key, Method::POST, &copy, json!({ "destinationKey": "../x.txt" })).await;
    problem(&got, 400, "invalid_parameter", Some("destinationKey"));
    let got = api.send(&app.key, Method::POST, &copy, json!({ "destinationKey": "a.txt", "force": true })).await;
    problem(&got, 400, "invalid_body", Some("force"));
    let viewer = app.user(1, Role::Viewer).await;
    problem(
        &api.send(&viewer, Method::POST, &copy, json!({ "destinationKey": "v.txt" })).await,
        403,
        "forbidden",
        None,
    );

    // Delete: 204, then the asset and its public URL are gone.
    let one = format!("/api/v1/accounts/1/assets/{}", c["id"].as_str().unwrap());
    problem(&api.call(Some(&viewer), Method::DELETE, &one, None).await.pipe(), 403, "forbidden", None);
    problem(&api.call(Some(&theirs), Method::DELETE, &one, None).await.pipe(), 404, "not_found", None);
    let (status, _, _) = api.call(Some(&app.key), Method::DELETE, &one, None).await;
    assert_eq!(status, 204);
    problem(&api.get(&app.key, &one).await, 404, "not_found", None);
    problem(&api.call(Some(&app.key), Method::DELETE, &one, None).await.pipe(), 404, "not_found", None);
    assert_eq!(app.client.get(app.url("/files/1/docs/copy.txt")).send().await.unwrap().status(), 404);
}

/// `(status, body)` of a full answer.
trait Pipe {
    fn pipe(self) -> (u16, Value);
}

impl Pipe for (u16, Value, reqwest::header::HeaderMap) {
    fn pipe(self) -> (u16, Value) {
        (self.0, self.1)
    }
}

#[tokio::test]
async fn batch_delete_reports_each_item() {
    let app = TestApp::spawn().await;
    let api = Api { app: &app };
    let (_, a) = put_raw(&app, "b/a.png", &common::png()).await;
    put_raw(&app, "b/b.png", &common::png()).await;
    put_raw(&app, "b/c.png", &common::png()).await;
    let url = "/api/v1/accounts/1/assets/batch-delete";
    let (status, body) = api.send(&app.key, Method::POST, url, json!({ "ids": [a["id"], "ast_none"] })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["deleted"], json!([a["id"]]));
    assert_eq!(body["failed"][0]["id"], "ast_none");
    assert_eq!(body["failed"][0]["code"], "not_found");
    let (status, body) = api.send(&app.key, Method::POST, url, json!({ "keys": ["b/b.png", "b/zz.png"] })).await;
    assert_eq!((status, &body["deleted"]), (200, &json!(["b/b.png"])), "{body}");
    assert_eq!((&body["failed"][0]["key"], &body["failed"][0]["code"]), (&json!("b/zz.png"), &json!("not_found")));
    problem(&api.send(&app.key, Method::POST, url, json!({ "ids": [], "keys": [] })).await, 400, "invalid_body", None);
    problem(&api.send(&app.key, Method::POST, url, json!({ "ids": [] })).await, 400, "invalid_body", Some("ids"));
    let many: Vec<String> = (0..1001).map(|i| format!("k{i}.png")).collect();
    problem(&api.send(&app.key, Method::POST, url, json!({ "keys": many })).await, 400, "invalid_body", Some("keys"));
    let viewer = app.user(1, Role::Viewer).await;
    problem(&api.send(&viewer, Method::POST, url, json!({ "keys": ["b/c.png"] })).await, 403, "forbidden", None);
    // Another account's ids fail as not found, and stay.
    app.account(2).await;
    let theirs = app.user(2, Role::Owner).await;
    let (_, body) =
        api.send(&theirs, Method::POST, "/api/v1/accounts/2/assets/batch-delete", json!({ "keys": ["b/c.png"] })).await;
    assert_eq!(body["deleted"], json!([]), "{body}");
    assert_eq!(api.get(&app.key, "/api/v1/accounts/1/tree?path=b").await.1["entries"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn tree_and_folders() {
    let app = TestApp::spawn().await;
    let api = Api { app: &app };
    put_raw(&app, "t/one.png", &common::png()).await;
    put_raw(&app, "t/sub/two.png", &common::png()).await;
    let (status, created) =
        api.send(&app.key, Method::POST, "/api/v1/accounts/1/folders", json!({ "path": "t/empty" })).await;
    assert_eq!((status, created), (201, json!({ "path": "t/empty" })));
    let got = api.send(&app.key, Method::POST, "/api/v1/accounts/1/folders", json!({ "path": "t/empty" })).await;
    problem(&got, 409, "conflict", Some("path"));
    let got = api.send(&app.key, Method::POST, "/api/v1/accounts/1/folders", json!({ "path": "../up" })).await;
    problem(&got, 400, "invalid_parameter", Some("path"));
    let got = api.send(&app.key, Method::POST, "/api/v1/accounts/1/folders", json!({ "paht": "x" })).await;
    problem(&got, 400, "invalid_body", Some("paht"));

    // One level: folders and assets together in name order; paged by cursor.
    let (status, tree) = api.get(&app.key, "/api/v1/accounts/1/tree?path=t").await;
    assert_eq!(status, 200, "{tree}");
    assert_eq!(tree["path"], "t");
    let names: Vec<&str> = tree["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().or(e["asset"]["name"].as_str()).unwrap())
        .collect();
    assert_eq!(names, ["empty", "one.png", "sub"]);
    assert_eq!(tree["nextCursor"], json!(null));
    let (_, first) = api.get(&app.key, "/api/v1/accounts/1/tree?path=t&limit=2").await;
    assert_eq!(first["entries"].as_array().unwrap().len(), 2);
    let cursor = first["nextCursor"].as_str().unwrap();
    let (_, rest) = api.get(&app.key, &format!("/api/v1/accounts/1/tree?path=t&limit=2&cursor={cursor}")).await;
    assert_eq!((rest["entries"][0]["path"].as_str(), &rest["nextCursor"]), (Some("t/sub"), &json!(null)));
    let (_, root) = api.get(&app.key, "/api/v1/accounts/1/tree").await;
    assert_eq!(root["entries"], json!([{ "type": "folder", "name": "t", "path": "t" }]));
    problem(&api.get(&app.key, "/api/v1/accounts/1/tree?path=nowhere").await, 404, "not_found", None);
    problem(&api.get(&app.key, "/api/v1/accounts/1/tree?limit=0").await, 400, "invalid_parameter", Some("limit"));
    problem(&api.get(&app.key, "/api/v1/accounts/1/tree?cursor=!!").await, 400, "invalid_parameter", Some("cursor"));
    problem(&api.get(&app.key, "/api/v1/accounts/1/tree?depth=2").await, 400, "invalid_parameter", Some("depth"));

    // Deleting: a non-empty folder only with recursive; the root never; a missing one is 404.
    let del = |q: &str| {
        let url = format!("/api/v1/accounts/1/folders{q}");
        let api = &api;
        let key = &app.key;
        async move { api.call(Some(key), Method::DELETE, &url, None).await }
    };
    problem(&del("?path=t").await.pipe(), 409, "conflict", Some("path"));
    problem(&del("").await.pipe(), 400, "invalid_parameter", Some("path"));
    problem(&del("?path=").await.pipe(), 400, "invalid_parameter", Some("path"));
    problem(&del("?path=t&recursive=yes").await.pipe(), 400, "invalid_parameter", Some("recursive"));
    problem(&del("?path=nowhere").await.pipe(), 404, "not_found", None);
    assert_eq!(del("?path=t/empty").await.0, 204);
    let viewer = app.user(1, Role::Viewer).await;
    let got = api.call(Some(&viewer), Method::DELETE, "/api/v1/accounts/1/folders?path=t&recursive=true", None).await;
    problem(&got.pipe(), 403, "forbidden", None);
    assert_eq!(del("?path=t&recursive=true").await.0, 204);
    problem(&api.get(&app.key, "/api/v1/accounts/1/tree?path=t").await, 404, "not_found", None);
    assert_eq!(app.client.get(app.url("/files/1/t/one.png")).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn patch_renames_and_honours_if_match() {
    let app = TestApp::spawn().await;
    let api = Api { app: &app };
    let (_, a) = put_raw(&app, "r/a.png", &common::png()).await;
    put_raw(&app, "r/taken.png", &common::png()).await;
    let one = format!("/api/v1/accounts/1/assets/{}", a["id"].as_str().unwrap());

    // A rename keeps the id; the old public URL is gone, the new one serves.
    let (status, moved) =
        api.send(&app.key, Method::PATCH, &one, json!({ "key": "s/renamed.png", "tags": ["x"] })).await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!((&moved["id"], moved["key"].as_str(), &moved["tags"]), (&a["id"], Some("s/renamed.png"), &json!(["x"])));
    assert_eq!(app.client.get(app.url("/files/1/r/a.png")).send().await.unwrap().status(), 404);
    assert_eq!(app.client.get(app.url("/files/1/s/renamed.png")).send().await.unwrap().status(), 200);
    let got = api.send(&app.key, Method::PATCH, &one, json!({ "key": "r/taken.png" })).await;
    problem(&got, 409, "conflict", Some("key"));
    let got = api.send(&app.key, Method::PATCH, &one, json!({ "key": "../x.png" })).await;
    problem(&got, 400, "invalid_parameter", Some("key"));
    // A bad member is refused before the rename: the asset stays where it was.
    let got = api.send(&app.key, Method::PATCH, &one, json!({ "key": "s/other.png", "tags": [""] })).await;
    problem(&got, 400, "invalid_parameter", Some("tags"));
    assert_eq!(api.get(&app.key, &one).await.1["key"], "s/renamed.png");

    // If-Match: the ETag of the GET applies; a stale one is 412 and changes nothing.
    let (_, _, headers) = api.call(Some(&app.key), Method::GET, &one, None).await;
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let patch = |tag: &str, body: Value| {
        app.client
            .patch(app.url(&one))
            .bearer_auth(&app.key)
            .header("if-match", tag)
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string())
            .send()
    };
    let res = patch(&etag, json!({ "tags": ["y"] })).await.unwrap();
    assert_eq!(res.status(), 200);
    let new_tag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_tag, etag);
    let res = patch(&etag, json!({ "tags": ["z"] })).await.unwrap();
    let got = (res.status().as_u16(), res.json::<Value>().await.unwrap());
    problem(&got, 412, "precondition_failed", Some("If-Match"));
    let res = patch(&etag, json!({ "key": "s/z.png" })).await.unwrap();
    assert_eq!(res.status(), 412, "a rename with a stale tag");
    let now = api.get(&app.key, &one).await.1;
    assert_eq!((now["tags"].clone(), now["key"].as_str()), (json!(["y"]), Some("s/renamed.png")));
    assert_eq!(patch("*", json!({ "tags": ["w"] })).await.unwrap().status(), 200);
    let res = patch("W/\"weak\", \"x\"", json!({ "tags": ["v"] })).await.unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn concurrent_metadata_merges_keep_each_other() {
    let app = TestApp::spawn().await;
    let api = Api { app: &app };
    let (_, a) = put_raw(&app, "m/a.png", &common::png()).await;
    let one = format!("/api/v1/accounts/1/assets/{}", a["id"].as_str().unwrap());
    let key = &app.key;
    let calls = (0..20).map(|i| {
        let api = &api;
        let one = &one;
        async move { api.send(key, Method::PATCH, one, json!({ "metadata": { format!("k{i:02}"): "v" } })).await }
    });
    for (status, body) in futures::future::join_all(calls).await {
        assert_eq!(status, 200, "{body}");
    }
    let (_, now) = api.get(&app.key, &one).await;
    assert_eq!(now["metadata"].as_object().unwrap().len(), 20, "{now}");
}

#[tokio::test]
async fn owners_manage_keys() {
    let app = TestApp::spawn().await;
    let api = Api { app: &app };
    let keys = "/api/v1/accounts/1/keys";
    let (status, list) = api.get(&app.key, keys).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "the first owner's key: {list}");
    assert!(list["items"][0].get("key").is_none(), "a list never shows a secret");

    // A new key: 201, its secret once; it works, restricted to the account.
    let (status, made) = api.send(&app.key, Method::POST, keys, json!({ "name": "ci upload", "readOnly": true })).await;
    assert_eq!(status, 201, "{made}");
    let secret = made["key"].as_str().unwrap().to_owned();
    assert_eq!(
        (made["name"].as_str(), made["readOnly"].as_bool(), &made["lastUsedAt"]),
        (Some("ci upload"), Some(true), &json!(null))
    );
    let (status, me) = api.get(&secret, "/api/v1/me").await;
    assert_eq!((status, &me["accounts"][0]["id"]), (200, &json!(1)), "{me}");
    let got =
        put_form(&app, &secret, reqwest::multipart::Form::new().part("file", file_part("r.png", common::png()))).await;
    problem(&got, 403, "forbidden", None);
    let (_, list) = api.get(&app.key, keys).await;
    let ids: Vec<&str> = list["items"].as_array().unwrap().iter().map(|k| k["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&made["id"].as_str().unwrap()), "{list}");
    assert!(list["items"].as_array().unwrap().iter().all(|k| k.get("key").is_none()));
    // Its use is recorded (in the background).
    let mut used = Value::Null;
    for _ in 0..100 {
        let (_, list) = api.get(&app.key, keys).await;
        used = list["items"].as_array().unwrap().iter().find(|k| k["id"] == made["id"]).unwrap()["lastUsedAt"].clone();
        if used.is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(used.is_string(), "lastUsedAt: {used}");
    // Paging.
    let (_, first) = api.get(&app.key, &format!("{keys}?limit=1")).await;
    let cursor = first["nextCursor"].as_str().unwrap();
    let (_, rest) = api.get(&app.key, &format!("{keys}?limit=1&cursor={cursor}")).await;
    assert_ne!(rest["items"][0]["id"], first["items"][0]["id"]);

    // Refused: a bad name, an unknown field, a non-owner, another account.
    problem(
        &api.send(&app.key, Method::POST, keys, json!({ "name": "" })).await,
        400,
        "invalid_parameter",
        Some("name"),
    );
    problem(
        &api.send(&app.key, Method::POST, keys, json!({ "name": "x", "admin": true })).await,
        400,
        "invalid_body",
        Some("admin"),
    );
    let editor = app.user(1, Role::Editor).await;
    problem(&api.get(&editor, keys).await, 403, "forbidden", None);
    problem(&api.send(&editor, Method::POST, keys, json!({ "name": "mine" })).await, 403, "forbidden", None);
    problem(&api.get(&secret, keys).await, 403, "forbidden", None);
    app.account(2).await;
    let theirs = app.user(2, Role::Owner).await;
    problem(&api.get(&theirs, keys).await, 404, "not_found", None);
    let one = format!("{keys}/{}", made["id"].as_str().unwrap());
    let got = api
        .call(Some(&theirs), Method::DELETE, &format!("/api/v1/accounts/2/keys/{}", made["id"].as_str().unwrap()), None)
        .await;
    problem(&got.pipe(), 404, "not_found", None);
    assert_eq!(api.get(&secret, "/api/v1/me").await.0, 200, "still works");

    // Revoked: 204, and the key stops working at once.
    assert_eq!(api.call(Some(&app.key), Method::DELETE, &one, None).await.0, 204);
    problem(&api.get(&secret, "/api/v1/me").await, 401, "unauthenticated", None);
    problem(&api.call(Some(&app.key), Method::DELETE, &one, None).await.pipe(), 404, "not_found", None);
}

#[tokio::test]
async fn views_and_downloads_are_counted() {
    let app = TestApp::spawn().await;
    let api = Api { app: &app };
    let bytes: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    let (_, a) = put_raw(&app, "c/data.txt", &bytes).await;
    let one = format!("/api/v1/accounts/1/assets/{}", a["id"].as_str().unwrap());
    let content = format!("{one}/content");
    let (_, _, headers) = api.call(Some(&app.key), Method::GET, &one, None).await;
    let etag = headers["etag"].to_str().unwrap().to_owned();
    api.get(&app.key, &one).await; // a second view
    let get = |range: Option<&str>, if_none_match: Option<&str>| {
        let mut req = app.client.get(app.url(&content)).bearer_auth(&app.key);
        if let Some(r) = range {
            req = req.header("range", r);
        }
        if let Some(t) = if_none_match {
            req = req.header("if-none-match", t);
        }
        req.send()
    };
    assert_eq!(get(None, None).await.unwrap().status(), 200); // a download
    assert_eq!(get(Some("bytes=0-99"), None).await.unwrap().status(), 206); // a download's start
    assert_eq!(get(Some("bytes=100-199"), None).await.unwrap().status(), 206); // not counted
    let content_tag = format!("\"{}\"", a["hash"].as_str().unwrap());
    assert_eq!(get(None, Some(&content_tag)).await.unwrap().status(), 304); // not counted
    let head = app.client.head(app.url(&content)).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!(head.status(), 200); // not counted
    // Written in the background within a second or so; the ETag does not change with them.
    let mut now = Value::Null;
    for _ in 0..100 {
        now = api.get(&app.key, &format!("/api/v1/accounts/1/assets?id={}", a["id"].as_str().unwrap())).await.1;
        if now["items"][0]["downloads"] == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!((&now["items"][0]["views"], &now["items"][0]["downloads"]), (&json!(2), &json!(2)), "{now}");
    let (_, _, headers) = api.call(Some(&app.key), Method::GET, &one, None).await;
    assert_eq!(headers["etag"].to_str().unwrap(), etag);
}
