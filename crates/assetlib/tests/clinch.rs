//! The Clinch Assets Library API, operation by operation of the seed
//! (`shared/seeds/004_f907f87b49908177.txt`) and of SPEC section 5.3: routes under
//! `/{AccountId}/Assets/...`, the `X-ApiKey` header, errors as `{"error": "..."}`, query and
//! JSON keys matched case-insensitively.

mod common;

use assetlib_core::model::Role;
use common::{TestApp, png};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use std::time::Duration;

const A: &str = "/1/Assets";

// ---- helpers ------------------------------------------------------------------------------

/// Status and body; a body that is not JSON comes back as a JSON string, so that a failing
/// assertion shows it.
async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

fn req(app: &TestApp, key: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.client.request(method, app.url(path)).header("X-ApiKey", key)
}

async fn get(app: &TestApp, key: &str, path: &str) -> (u16, Value) {
    send(req(app, key, Method::GET, path)).await
}

async fn delete(app: &TestApp, key: &str, path: &str) -> (u16, Value) {
    send(req(app, key, Method::DELETE, path)).await
}

async fn put(app: &TestApp, key: &str, path: &str) -> (u16, Value) {
    send(req(app, key, Method::PUT, path)).await
}

async fn with_json(app: &TestApp, key: &str, method: Method, path: &str, body: &Value) -> (u16, Value) {
    send(req(app, key, method, path).json(body)).await
}

/// A body sent as `application/json` exactly as given (for malformed JSON).
async fn with_raw(app: &TestApp, key: &str, method: Method, path: &str, body: &str) -> (u16, Value) {
    send(req(app, key, method, path).header("content-type", "application/json").body(body.to_owned())).await
}

/// Percent-encodes a query value (keeps `/`).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// PutAsset (`PUT /1/Assets/Asset?{query}`) of `bytes` as the file `name`, with `fields` as
/// multipart text fields before the file part.
async fn put_asset_with(
    app: &TestApp,
    key: &str,
    method: Method,
    query: &str,
    fields: &[(&str, &str)],
    name: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let mut form = Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    form = form.part("file", Part::bytes(bytes).file_name(name.to_owned()));
    let path = if query.is_empty() { format!("{A}/Asset") } else { format!("{A}/Asset?{query}") };
    send(req(app, key, method, &path).multipart(form)).await
}

/// PutAsset to the full key `k` (the file part named after its last segment); expects 200.
async fn store(app: &TestApp, k: &str, bytes: impl Into<Vec<u8>>) -> Value {
    let name = k.rsplit('/').next().unwrap();
    let (status, body) =
        put_asset_with(app, &app.key, Method::PUT, &format!("key={}", enc(k)), &[], name, bytes.into()).await;
    assert_eq!(status, 200, "PutAsset {k}: {body}");
    body
}

async fn file_status(app: &TestApp, k: &str) -> u16 {
    app.client.get(app.url(&format!("/files/1/{k}"))).send().await.unwrap().status().as_u16()
}

async fn file_bytes(app: &TestApp, k: &str) -> Vec<u8> {
    let res = app.client.get(app.url(&format!("/files/1/{k}"))).send().await.unwrap();
    assert_eq!(res.status(), 200, "/files/1/{k}");
    res.bytes().await.unwrap().to_vec()
}

async fn metadata(app: &TestApp, k: &str) -> Value {
    let (status, body) = get(app, &app.key, &format!("{A}/Asset/AssetMetadata?key={}", enc(k))).await;
    assert_eq!(status, 200, "GetAssetMetadata {k}: {body}");
    body["metadata"].clone()
}

async fn set_metadata(app: &TestApp, k: &str, md: Value) {
    let (status, body) =
        with_json(app, &app.key, Method::PUT, &format!("{A}/Asset/AssetMetadata?key={}", enc(k)), &md).await;
    assert_eq!(status, 200, "PutAssetMetadata {k}: {body}");
}

/// Every key GetAssetList gives for `query`, following `nextToken` to the end.
async fn list_keys(app: &TestApp, query: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..200 {
        let mut path = format!("{A}/AssetList?{query}");
        if let Some(t) = &token {
            path.push_str(&format!("&nextToken={}", enc(t)));
        }
        let (status, body) = get(app, &app.key, &path).await;
        assert_eq!(status, 200, "{path}: {body}");
        keys.extend(body["assets"].as_array().unwrap().iter().map(|a| a["key"].as_str().unwrap().to_owned()));
        match &body["nextToken"] {
            Value::Null => return keys,
            Value::String(t) => token = Some(t.clone()),
            other => panic!("nextToken {other}"),
        }
    }
    panic!("GetAssetList {query}: more than 200 pages");
}

async fn subfolders(app: &TestApp, folder: &str) -> Vec<String> {
    let (status, body) = get(app, &app.key, &format!("{A}/Subfolders?folder={}", enc(folder))).await;
    assert_eq!(status, 200, "GetSubFoldersList {folder}: {body}");
    body["subFolders"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect()
}

/// The Jivox listing of one folder: (file names, folder names).
async fn jivox_listing(app: &TestApp, prefix: &str) -> (Vec<String>, Vec<String>) {
    let (status, body) =
        app.get_json(&app.key, &format!("/v2/accounts/1/asset-library?limit=1000&prefix={}", enc(prefix))).await;
    assert_eq!(status, 200, "{body}");
    let files = body["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap().to_owned()).collect();
    let folders = body["folders"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_owned()).collect();
    (files, folders)
}

/// The body with this server's base URL written `http://[server]`, for snapshots.
fn redact(app: &TestApp, body: &Value) -> Value {
    serde_json::from_str(&body.to_string().replace(&app.base, "http://[server]")).unwrap()
}

fn url_of(app: &TestApp, k: &str) -> String {
    format!("{}/files/1/{k}", app.base)
}

/// A 400 whose body is exactly `{"error": msg}`.
#[track_caller]
fn assert_400(res: (u16, Value), msg: &str, what: &str) {
    assert_eq!(res, (400, json!({ "error": msg })), "{what}");
}

/// A `status` whose body is `{"error": "<non-empty>"}` and nothing else.
#[track_caller]
fn assert_error(res: &(u16, Value), status: u16, what: &str) {
    assert_eq!(res.0, status, "{what}: {}", res.1);
    let obj = res.1.as_object().unwrap_or_else(|| panic!("{what}: error body is not an object: {}", res.1));
    assert_eq!(obj.len(), 1, "{what}: {}", res.1);
    assert!(obj["error"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {}", res.1);
}

fn error_text(res: &(u16, Value)) -> String {
    res.1["error"].as_str().unwrap_or_default().to_owned()
}

/// A small HTTP server on 127.0.0.1:0 to fetch from: `/logo.png`, `/big.txt` (4096 bytes),
/// `/missing.png` (404) and `/redirect?to=URL` (302 to URL). Returns its base URL.
async fn origin() -> String {
    use axum::extract::Query;
    use axum::http::StatusCode;
    use axum::routing::get;
    use std::collections::HashMap;
    let router = axum::Router::new()
        .route("/logo.png", get(|| async { ([("content-type", "image/png")], png()) }))
        .route("/big.txt", get(|| async { vec![b'x'; 4096] }))
        .route("/missing.png", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/redirect",
            get(|Query(q): Query<HashMap<String, String>>| async move {
                (StatusCode::FOUND, [("location", q.get("to").cloned().unwrap_or_default())])
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// A read-only API key of account 1's owner, made directly in the metadata store (no
/// operation makes one yet).
async fn read_only_key(app: &TestApp) -> String {
    let owner = app.owner().await;
    let meta = assetlib_db::connect(&app.config.database_url()).await.expect("metadata store");
    let secret = format!("alk_readonly{}", assetlib_core::ids::random_hex32());
    let key = assetlib_core::model::NewApiKey {
        id: assetlib_core::model::NewApiKey::generate_id(),
        name: "read-only".into(),
        user: owner.user.clone(),
        hash: assetlib_core::auth::hash_api_key(&secret),
        account: Some(assetlib_core::AccountId(1)),
        read_only: true,
        created_at: assetlib_core::model::now_millis(),
    };
    meta.create_api_key(&key).await.expect("read-only key");
    secret
}

// ---- PutAsset -----------------------------------------------------------------------------

/// `PUT /{AccountId}/Assets/Asset` with `key`: `{"key","url"}`, the URL serves the file.
#[tokio::test]
async fn put_asset_by_key_returns_key_and_url() {
    let app = TestApp::spawn().await;
    let (status, body) =
        put_asset_with(&app, &app.key, Method::PUT, "key=a/b/x.png", &[], "upload-name.png", png()).await;
    assert_eq!(status, 200, "{body}");
    insta::assert_json_snapshot!("put_asset_response", redact(&app, &body));
    assert_eq!(body, json!({"key": "a/b/x.png", "url": url_of(&app, "a/b/x.png")}));
    assert_eq!(file_bytes(&app, "a/b/x.png").await, png());
    // The key names the asset, not the uploaded file's name.
    assert_eq!(file_status(&app, "a/b/upload-name.png").await, 404);
    app.stop().await;
}

/// The seed's example is `POST /12345/Assets/Asset`; both methods work.
#[tokio::test]
async fn put_asset_accepts_put_and_post() {
    let app = TestApp::spawn().await;
    let (status, body) = put_asset_with(&app, &app.key, Method::POST, "key=p/post.png", &[], "f.png", png()).await;
    assert_eq!((status, body), (200, json!({"key": "p/post.png", "url": url_of(&app, "p/post.png")})));
    let (status, _) = put_asset_with(&app, &app.key, Method::PUT, "key=p/put.png", &[], "f.png", png()).await;
    assert_eq!(status, 200);
    assert_eq!(list_keys(&app, "folder=p").await, ["p/post.png", "p/put.png"]);
    app.stop().await;
}

/// `key` or `folder` (+ the file's name), as a query parameter or a multipart field; neither:
/// the file's name at the root.
#[tokio::test]
async fn put_asset_targets_key_folder_or_root() {
    let app = TestApp::spawn().await;
    type Fields<'a> = &'a [(&'a str, &'a str)];
    let cases: [(&str, Fields, &str, &str); 5] = [
        ("folder=q/f", &[], "one.png", "q/f/one.png"),
        ("", &[("key", "field/k.png")], "ignored.png", "field/k.png"),
        ("", &[("folder", "field/f")], "two.png", "field/f/two.png"),
        ("", &[], "root.png", "root.png"),
        ("folder=", &[], "emptyfolder.png", "emptyfolder.png"),
    ];
    for (query, fields, name, expected) in cases {
        let (status, body) = put_asset_with(&app, &app.key, Method::PUT, query, fields, name, png()).await;
        assert_eq!(status, 200, "{query} {fields:?}: {body}");
        assert_eq!(body["key"], expected, "{query} {fields:?}");
        assert_eq!(body["url"], url_of(&app, expected));
        assert_eq!(file_status(&app, expected).await, 200, "{expected}");
    }
    // A text field after the file part counts as well.
    let form = Form::new().part("file", Part::bytes(png()).file_name("late.png")).text("key", "after/file.png");
    let (status, body) = send(req(&app, &app.key, Method::PUT, &format!("{A}/Asset")).multipart(form)).await;
    assert_eq!((status, body["key"].clone()), (200, json!("after/file.png")), "{body}");
    let form = Form::new().part("file", Part::bytes(png()).file_name("x.png")).text("folder", "after/folder");
    let (status, body) = send(req(&app, &app.key, Method::PUT, &format!("{A}/Asset")).multipart(form)).await;
    assert_eq!((status, body["key"].clone()), (200, json!("after/folder/x.png")), "{body}");
    // With a key, the uploaded file's own name does not matter, wherever the key field is.
    for before in [true, false] {
        let file = Part::bytes(png()).file_name("caf\u{e9}.png");
        let form = if before {
            Form::new().text("key", "named/before.png").part("file", file)
        } else {
            Form::new().part("file", file).text("key", "named/after.png")
        };
        let (status, body) = send(req(&app, &app.key, Method::PUT, &format!("{A}/Asset")).multipart(form)).await;
        assert_eq!(status, 200, "key field {}: {body}", if before { "before the file" } else { "after the file" });
    }
    app.stop().await;
}

/// Parameter and multipart field names are matched case-insensitively.
#[tokio::test]
async fn put_asset_names_are_case_insensitive() {
    let app = TestApp::spawn().await;
    for (query, expected) in [("Key=c/1.png", "c/1.png"), ("KEY=c/2.png", "c/2.png"), ("FOLDER=c/f", "c/f/n.png")] {
        let (status, body) = put_asset_with(&app, &app.key, Method::PUT, query, &[], "n.png", png()).await;
        assert_eq!((status, body["key"].clone()), (200, json!(expected)), "{query}: {body}");
    }
    for (field, value, expected) in [("Key", "c/3.png", "c/3.png"), ("Folder", "c/g", "c/g/n.png")] {
        let (status, body) = put_asset_with(&app, &app.key, Method::PUT, "", &[(field, value)], "n.png", png()).await;
        assert_eq!((status, body["key"].clone()), (200, json!(expected)), "{field}: {body}");
    }
    let form = Form::new().part("File", Part::bytes(png()).file_name("upper.png")).text("KEY", "c/4.png");
    let (status, body) = send(req(&app, &app.key, Method::PUT, &format!("{A}/Asset")).multipart(form)).await;
    assert_eq!((status, body["key"].clone()), (200, json!("c/4.png")), "{body}");
    app.stop().await;
}

/// The path and file rules of SPEC section 3, with the same messages as Jivox.
#[tokio::test]
async fn put_asset_applies_the_path_and_file_rules() {
    let app = TestApp::spawn().await;
    let cases = [
        ("key=a/../b.png", "Path contains illegal sequence \"..\" (directory traversal)."),
        ("key=a/./b.png", "Path contains illegal sequence \"./\" (directory traversal)."),
        ("key=%2Fabs.png", "Path must not start with \"/\" (absolute path)."),
        ("key=a//b.png", "Path contains illegal sequence \"//\"."),
        ("key=a%00b.png", "Path contains a null byte (\\u0000)."),
        ("key=caf%C3%A9/x.png", "Path contains a disallowed character (U+00E9)."),
        ("folder=x/../y", "Path contains illegal sequence \"..\" (directory traversal)."),
        ("key=dir/", "File name must not end with \"/\"."),
    ];
    for (query, msg) in cases {
        let res = put_asset_with(&app, &app.key, Method::PUT, query, &[], "x.png", png()).await;
        assert_400(res, msg, query);
    }
    let long = format!("key={}/x.png", "a".repeat(507));
    let res = put_asset_with(&app, &app.key, Method::PUT, &long, &[], "x.png", png()).await;
    assert_400(res, "Path exceeds max length of 512 characters.", "513 characters");
    // Disallowed extension, by key and by the file's own name.
    for (query, name) in [("key=setup.exe", "x.png"), ("", "setup.exe"), ("folder=f", "setup.exe")] {
        let res = put_asset_with(&app, &app.key, Method::PUT, query, &[], name, b"x".to_vec()).await;
        assert_error(&res, 400, name);
        let msg = error_text(&res);
        assert!(msg.starts_with("File extension 'exe' is not allowed. Allowed: jpg, jpeg, png, gif,"), "{msg}");
    }
    // Executable content, whatever the name.
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.resize(4096, 0);
    let res = put_asset_with(&app, &app.key, Method::PUT, "key=innocent.png", &[], "innocent.png", elf).await;
    assert_400(res, "Executable files are not allowed.", "ELF");
    assert!(list_keys(&app, "recursive=true").await.is_empty());
    assert_eq!(app.blob_count("assets").await, 0);
    app.stop().await;
}

/// Past `max_upload_size`: a 400 (SPEC 5.3: this dialect's validation errors are 400s, where
/// Jivox gives a 413), and nothing is stored.
#[tokio::test]
async fn put_asset_refuses_files_over_the_size_limit() {
    let app = TestApp::spawn_with(|c| c.max_upload_size = 1024).await;
    let (status, _) =
        put_asset_with(&app, &app.key, Method::PUT, "key=max.txt", &[], "max.txt", vec![b'x'; 1024]).await;
    assert_eq!(status, 200);
    let res = put_asset_with(&app, &app.key, Method::PUT, "key=over.txt", &[], "over.txt", vec![b'x'; 1025]).await;
    assert_error(&res, 400, "too large");
    assert!(error_text(&res).starts_with("File size exceeds the maximum allowed size of"), "{res:?}");
    assert_eq!(list_keys(&app, "").await, ["max.txt"]);
    assert_eq!(app.blob_count("assets").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn put_asset_without_a_file_or_multipart_is_a_400() {
    let app = TestApp::spawn().await;
    let form = Form::new().text("key", "x.png");
    let res = send(req(&app, &app.key, Method::PUT, &format!("{A}/Asset")).multipart(form)).await;
    assert_error(&res, 400, "no file part");
    assert!(error_text(&res).to_lowercase().contains("file"), "{res:?}");
    let res = send(req(&app, &app.key, Method::PUT, &format!("{A}/Asset?key=x.png")).body("plain")).await;
    assert_error(&res, 400, "not multipart");
    let res = with_raw(&app, &app.key, Method::PUT, &format!("{A}/Asset?key=x.png"), "{\"file\": 1}").await;
    assert_error(&res, 400, "json");
    app.stop().await;
}

/// This dialect stores a zip as one file; it is not expanded.
#[tokio::test]
async fn put_asset_stores_a_zip_as_one_file() {
    let app = TestApp::spawn().await;
    let zip = common::zip_of(&[("inner/a.png", &png()), ("b.png", &png())]);
    let body = store(&app, "z/bundle.zip", zip.clone()).await;
    assert_eq!(body["key"], "z/bundle.zip");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(list_keys(&app, "folder=z&recursive=true").await, ["z/bundle.zip"]);
    assert_eq!(file_bytes(&app, "z/bundle.zip").await, zip);
    let (_, list) = get(&app, &app.key, &format!("{A}/AssetList?folder=z")).await;
    assert_eq!(list["assets"][0]["contentType"], "application/zip");
    app.stop().await;
}

/// Uploading to an existing key replaces the content: same asset, same URL.
#[tokio::test]
async fn put_asset_replaces_an_existing_key() {
    let app = TestApp::spawn().await;
    let first = store(&app, "r/same.txt", b"one".to_vec()).await;
    let owner = app.owner().await;
    let before = app.lib().find_asset(&owner, assetlib_core::AccountId(1), "r/same.txt").await.unwrap();
    let second = store(&app, "r/same.txt", b"two!".to_vec()).await;
    assert_eq!(first, second);
    let after = app.lib().find_asset(&owner, assetlib_core::AccountId(1), "r/same.txt").await.unwrap();
    assert_eq!(before.id, after.id);
    assert_eq!(file_bytes(&app, "r/same.txt").await, b"two!");
    assert_eq!(list_keys(&app, "folder=r").await, ["r/same.txt"]);
    app.stop().await;
}

// ---- PutAssetJSON -------------------------------------------------------------------------

/// `{"key","content"}` with base64 content and optional string metadata.
#[tokio::test]
async fn put_asset_json_stores_base64_content_and_metadata() {
    let app = TestApp::spawn().await;
    let body = json!({"key": "j/logo.png", "content": base64(&png()), "metadata": {"campaign": "spring", "sku": "42"}});
    let (status, res) = with_json(&app, &app.key, Method::PUT, &format!("{A}/AssetJSON"), &body).await;
    assert_eq!(status, 200, "{res}");
    insta::assert_json_snapshot!("put_asset_json_response", redact(&app, &res));
    assert_eq!(res, json!({"key": "j/logo.png", "url": url_of(&app, "j/logo.png")}));
    assert_eq!(file_bytes(&app, "j/logo.png").await, png());
    assert_eq!(metadata(&app, "j/logo.png").await, json!({"campaign": "spring", "sku": "42"}));
    // Without metadata: none.
    let body = json!({"key": "j/plain.txt", "content": base64(b"hello")});
    let (status, _) = with_json(&app, &app.key, Method::PUT, &format!("{A}/AssetJSON"), &body).await;
    assert_eq!(status, 200);
    assert_eq!(file_bytes(&app, "j/plain.txt").await, b"hello");
    assert_eq!(metadata(&app, "j/plain.txt").await, json!({}));
    app.stop().await;
}

#[tokio::test]
async fn put_asset_json_keys_are_case_insensitive() {
    let app = TestApp::spawn().await;
    let bodies = [
        json!({"Key": "ci/1.txt", "Content": base64(b"1"), "Metadata": {"a": "1"}}),
        json!({"KEY": "ci/2.txt", "CONTENT": base64(b"2"), "METADATA": {"a": "2"}}),
        json!({"kEy": "ci/3.txt", "content": base64(b"3"), "metaData": {"a": "3"}}),
    ];
    for (i, body) in bodies.iter().enumerate() {
        let (status, res) = with_json(&app, &app.key, Method::PUT, &format!("{A}/AssetJSON"), body).await;
        assert_eq!(status, 200, "{body}: {res}");
        let k = format!("ci/{}.txt", i + 1);
        assert_eq!(res["key"], k);
        assert_eq!(file_bytes(&app, &k).await, (i + 1).to_string().into_bytes());
        assert_eq!(metadata(&app, &k).await, json!({"a": (i + 1).to_string()}));
    }
    app.stop().await;
}

/// Both or neither of content and url, bad base64, no key, bad metadata, malformed JSON: 400s,
/// and nothing is stored.
#[tokio::test]
async fn put_asset_json_rejects_bad_bodies() {
    let app = TestApp::spawn().await;
    let path = format!("{A}/AssetJSON");
    let content = base64(b"data");
    let cases = [
        ("content and url", json!({"key": "x.txt", "content": content, "url": "http://example.com/x.txt"})),
        ("neither content nor url", json!({"key": "x.txt"})),
        ("bad base64", json!({"key": "x.txt", "content": "!!!not base64!!!"})),
        ("no key", json!({"content": content})),
        ("empty key", json!({"key": "", "content": content})),
        ("key not a string", json!({"key": 5, "content": content})),
        ("content not a string", json!({"key": "x.txt", "content": 5})),
        ("metadata value not a string", json!({"key": "x.txt", "content": content, "metadata": {"n": 1}})),
        ("metadata nested", json!({"key": "x.txt", "content": content, "metadata": {"n": {"m": "v"}}})),
        ("metadata not an object", json!({"key": "x.txt", "content": content, "metadata": ["a"]})),
        ("traversal", json!({"key": "a/../x.txt", "content": content})),
        ("not an object", json!(["key", "x.txt"])),
    ];
    for (what, body) in cases {
        let res = with_json(&app, &app.key, Method::PUT, &path, &body).await;
        assert_error(&res, 400, what);
    }
    let res = with_json(&app, &app.key, Method::PUT, &path, &json!({"content": content})).await;
    assert!(error_text(&res).to_lowercase().contains("key"), "the error names the missing key: {res:?}");
    let res = with_json(&app, &app.key, Method::PUT, &path, &json!({"key": "setup.exe", "content": content})).await;
    assert!(error_text(&res).starts_with("File extension 'exe' is not allowed."), "{res:?}");
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.resize(512, 0);
    let res = with_json(&app, &app.key, Method::PUT, &path, &json!({"key": "e.png", "content": base64(&elf)})).await;
    assert_400(res, "Executable files are not allowed.", "ELF");
    for raw in ["{", "{\"key\": \"x.txt\",}", "", "null", "not json"] {
        let res = with_raw(&app, &app.key, Method::PUT, &path, raw).await;
        assert_error(&res, 400, raw);
    }
    assert!(list_keys(&app, "recursive=true").await.is_empty());
    assert_eq!(app.blob_count("assets").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn put_asset_json_content_over_the_size_limit_is_refused() {
    let app = TestApp::spawn_with(|c| c.max_upload_size = 1024).await;
    let path = format!("{A}/AssetJSON");
    let ok = json!({"key": "max.txt", "content": base64(&[b'x'; 1024])});
    assert_eq!(with_json(&app, &app.key, Method::PUT, &path, &ok).await.0, 200);
    let over = json!({"key": "over.txt", "content": base64(&[b'x'; 1025])});
    let res = with_json(&app, &app.key, Method::PUT, &path, &over).await;
    assert_error(&res, 400, "too large");
    assert_eq!(list_keys(&app, "").await, ["max.txt"]);
    app.stop().await;
}

/// `{"key","url"}`: the server fetches the URL (here a test server the config allows), also
/// through a redirect.
#[tokio::test]
async fn put_asset_json_fetches_a_url() {
    let origin = origin().await;
    let app = TestApp::spawn_with(|c| c.fetch_allow_hosts = vec!["127.0.0.1".into()]).await;
    let path = format!("{A}/AssetJSON");
    let body = json!({"key": "fetched/logo.png", "url": format!("{origin}/logo.png"), "metadata": {"from": "url"}});
    let (status, res) = with_json(&app, &app.key, Method::PUT, &path, &body).await;
    assert_eq!((status, res), (200, json!({"key": "fetched/logo.png", "url": url_of(&app, "fetched/logo.png")})));
    assert_eq!(file_bytes(&app, "fetched/logo.png").await, png());
    assert_eq!(metadata(&app, "fetched/logo.png").await, json!({"from": "url"}));
    // Through a redirect; `URL` matched case-insensitively.
    let to = enc(&format!("{origin}/logo.png"));
    let body = json!({"key": "fetched/again.png", "URL": format!("{origin}/redirect?to={to}")});
    let (status, res) = with_json(&app, &app.key, Method::PUT, &path, &body).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(file_bytes(&app, "fetched/again.png").await, png());
    // The origin answers 404: a 400 for the caller.
    let body = json!({"key": "fetched/missing.png", "url": format!("{origin}/missing.png")});
    let res = with_json(&app, &app.key, Method::PUT, &path, &body).await;
    assert_error(&res, 400, "404 at the origin");
    assert_eq!(list_keys(&app, "folder=fetched").await, ["fetched/again.png", "fetched/logo.png"]);
    app.stop().await;
}

#[tokio::test]
async fn put_asset_json_fetch_over_the_size_limit_is_a_400() {
    let origin = origin().await;
    let app = TestApp::spawn_with(|c| {
        c.fetch_allow_hosts = vec!["127.0.0.1".into()];
        c.max_upload_size = 1024;
    })
    .await;
    let body = json!({"key": "big.txt", "url": format!("{origin}/big.txt")});
    let res = with_json(&app, &app.key, Method::PUT, &format!("{A}/AssetJSON"), &body).await;
    assert_error(&res, 400, "4096 bytes over a 1024-byte limit");
    assert!(list_keys(&app, "").await.is_empty());
    app.stop().await;
}

/// Loopback, private, link-local and metadata addresses are refused with the reason, directly
/// and through a redirect. (The guard refuses before connecting: nothing leaves this machine.)
#[tokio::test]
async fn put_asset_json_refuses_internal_addresses() {
    let origin = origin().await;
    let path = format!("{A}/AssetJSON");
    // Without an allow list, the test server itself is loopback.
    let app = TestApp::spawn().await;
    let cases = [
        (format!("{origin}/logo.png"), "loopback"),
        ("http://localhost/x.png".to_owned(), "loopback"),
        ("http://[::1]/x.png".to_owned(), "loopback"),
        ("http://10.0.0.1/x.png".to_owned(), "private"),
        ("http://192.168.1.1/x.png".to_owned(), "private"),
        ("http://169.254.169.254/latest/meta-data".to_owned(), "metadata"),
    ];
    for (url, reason) in &cases {
        let res = with_json(&app, &app.key, Method::PUT, &path, &json!({"key": "x.png", "url": url})).await;
        assert_error(&res, 400, url);
        assert!(error_text(&res).contains(reason), "{url}: {res:?}");
    }
    for url in ["ftp://example.com/x.png", "file:///etc/passwd", "not a url", "http://user:pw@example.com/x.png"] {
        let res = with_json(&app, &app.key, Method::PUT, &path, &json!({"key": "x.png", "url": url})).await;
        assert_error(&res, 400, url);
    }
    assert!(list_keys(&app, "recursive=true").await.is_empty());
    app.stop().await;

    // Allowed: the test server on 127.0.0.1; refused: where it redirects to.
    let app = TestApp::spawn_with(|c| c.fetch_allow_hosts = vec!["127.0.0.1".into()]).await;
    let port = origin.rsplit(':').next().unwrap();
    let targets = [
        (format!("http://127.0.0.2:{port}/logo.png"), "loopback"),
        (format!("http://localhost:{port}/logo.png"), "loopback"),
        ("http://10.0.0.1/x.png".to_owned(), "private"),
        ("http://169.254.169.254/latest/meta-data".to_owned(), "metadata"),
    ];
    for (target, reason) in &targets {
        let url = format!("{origin}/redirect?to={}", enc(target));
        let res = with_json(&app, &app.key, Method::PUT, &path, &json!({"key": "x.png", "url": url})).await;
        assert_error(&res, 400, target);
        assert!(error_text(&res).contains(reason), "redirect to {target}: {res:?}");
    }
    assert!(list_keys(&app, "recursive=true").await.is_empty());
    app.stop().await;
}

// ---- DeleteAsset --------------------------------------------------------------------------

#[tokio::test]
async fn delete_asset_removes_it() {
    let app = TestApp::spawn().await;
    store(&app, "d/gone.png", png()).await;
    store(&app, "d/kept.png", png()).await;
    let (status, body) = delete(&app, &app.key, &format!("{A}/Asset?key=d/gone.png")).await;
    assert_eq!(status, 200, "{body}");
    insta::assert_json_snapshot!("delete_asset_response", body);
    assert_eq!(body, json!({"key": "d/gone.png", "deleted": true}));
    assert_eq!(file_status(&app, "d/gone.png").await, 404);
    assert_eq!(list_keys(&app, "folder=d").await, ["d/kept.png"]);
    // Case-insensitive parameter name.
    let (status, body) = delete(&app, &app.key, &format!("{A}/Asset?KEY=d/kept.png")).await;
    assert_eq!((status, body), (200, json!({"key": "d/kept.png", "deleted": true})));
    assert!(list_keys(&app, "recursive=true").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn delete_asset_errors() {
    let app = TestApp::spawn().await;
    store(&app, "d/x.png", png()).await;
    let res = delete(&app, &app.key, &format!("{A}/Asset")).await;
    assert_error(&res, 400, "no key");
    assert!(error_text(&res).to_lowercase().contains("key"), "{res:?}");
    assert_error(&delete(&app, &app.key, &format!("{A}/Asset?key=")).await, 400, "empty key");
    assert_400(
        delete(&app, &app.key, &format!("{A}/Asset?key=d/nope.png")).await,
        "Asset 'd/nope.png' does not exist.",
        "missing asset",
    );
    assert_400(
        delete(&app, &app.key, &format!("{A}/Asset?key=d/../x.png")).await,
        "Path contains illegal sequence \"..\" (directory traversal).",
        "traversal",
    );
    // Deleting twice: the second is a 400.
    assert_eq!(delete(&app, &app.key, &format!("{A}/Asset?key=d/x.png")).await.0, 200);
    assert_400(
        delete(&app, &app.key, &format!("{A}/Asset?key=d/x.png")).await,
        "Asset 'd/x.png' does not exist.",
        "deleted twice",
    );
    app.stop().await;
}

// ---- PutAssetMetadata / GetAssetMetadata --------------------------------------------------

#[tokio::test]
async fn asset_metadata_starts_empty_and_is_replaced_whole() {
    let app = TestApp::spawn().await;
    store(&app, "m/a.png", png()).await;
    let (status, body) = get(&app, &app.key, &format!("{A}/Asset/AssetMetadata?key=m/a.png")).await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("get_asset_metadata_empty", body);
    assert_eq!(body, json!({"key": "m/a.png", "metadata": {}}));

    let path = format!("{A}/Asset/AssetMetadata?key=m/a.png");
    let (status, body) = with_json(&app, &app.key, Method::PUT, &path, &json!({"color": "red", "size": "L"})).await;
    assert_eq!(status, 200, "{body}");
    insta::assert_json_snapshot!("put_asset_metadata_response", body);
    assert_eq!(body, json!({"key": "m/a.png", "metadata": {"color": "red", "size": "L"}}));
    let (_, got) = get(&app, &app.key, &path).await;
    insta::assert_json_snapshot!("get_asset_metadata", got);
    assert_eq!(got, body);

    // Replaces all: `color` and `size` go.
    let (status, body) = with_json(&app, &app.key, Method::PUT, &path, &json!({"shape": "round"})).await;
    assert_eq!((status, body), (200, json!({"key": "m/a.png", "metadata": {"shape": "round"}})));
    assert_eq!(metadata(&app, "m/a.png").await, json!({"shape": "round"}));
    // Empty object clears; values keep their exact text.
    set_metadata(&app, "m/a.png", json!({})).await;
    assert_eq!(metadata(&app, "m/a.png").await, json!({}));
    let odd = json!({"Mixed Case": "Value", "unicode": "grüße ✓", "empty": ""});
    set_metadata(&app, "m/a.png", odd.clone()).await;
    assert_eq!(metadata(&app, "m/a.png").await, odd);
    // `Key`, `KEY` as the parameter name.
    let (status, body) = get(&app, &app.key, &format!("{A}/Asset/AssetMetadata?Key=m/a.png")).await;
    assert_eq!((status, body["metadata"].clone()), (200, odd.clone()));
    let (status, _) =
        with_json(&app, &app.key, Method::PUT, &format!("{A}/Asset/AssetMetadata?KEY=m/a.png"), &json!({"k": "v"}))
            .await;
    assert_eq!(status, 200);
    assert_eq!(metadata(&app, "m/a.png").await, json!({"k": "v"}));
    app.stop().await;
}

#[tokio::test]
async fn asset_metadata_errors() {
    let app = TestApp::spawn().await;
    store(&app, "m/a.png", png()).await;
    set_metadata(&app, "m/a.png", json!({"keep": "me"})).await;
    let path = format!("{A}/Asset/AssetMetadata?key=m/a.png");
    let bad_bodies = [
        json!(["a", "b"]),
        json!("text"),
        json!(42),
        json!(null),
        json!({"n": 1}),
        json!({"b": true}),
        json!({"nested": {"a": "b"}}),
        json!({"list": ["a"]}),
        json!({"null": null}),
    ];
    for body in bad_bodies {
        let res = with_json(&app, &app.key, Method::PUT, &path, &body).await;
        assert_error(&res, 400, &body.to_string());
    }
    for raw in ["{", "", "{\"a\": \"b\",}", "nope"] {
        assert_error(&with_raw(&app, &app.key, Method::PUT, &path, raw).await, 400, raw);
    }
    // Absurd sizes are refused, not stored.
    let many: serde_json::Map<String, Value> = (0..10_000).map(|i| (format!("k{i}"), json!("v"))).collect();
    let huge = json!({ "big": "x".repeat(100_000) });
    for (what, body) in [("10000 entries", Value::Object(many)), ("a 100000-character value", huge)] {
        let res = with_json(&app, &app.key, Method::PUT, &path, &body).await;
        assert_error(&res, 400, what);
    }
    assert_eq!(metadata(&app, "m/a.png").await, json!({"keep": "me"}), "a refused PUT changes nothing");

    // No key; no such asset; a bad key.
    let res = with_json(&app, &app.key, Method::PUT, &format!("{A}/Asset/AssetMetadata"), &json!({})).await;
    assert_error(&res, 400, "PUT without key");
    assert!(error_text(&res).to_lowercase().contains("key"), "{res:?}");
    let res = get(&app, &app.key, &format!("{A}/Asset/AssetMetadata")).await;
    assert_error(&res, 400, "GET without key");
    assert!(error_text(&res).to_lowercase().contains("key"), "{res:?}");
    let missing = format!("{A}/Asset/AssetMetadata?key=m/none.png");
    assert_400(get(&app, &app.key, &missing).await, "Asset 'm/none.png' does not exist.", "GET missing");
    assert_400(
        with_json(&app, &app.key, Method::PUT, &missing, &json!({"a": "b"})).await,
        "Asset 'm/none.png' does not exist.",
        "PUT missing",
    );
    let bad = format!("{A}/Asset/AssetMetadata?key=m/../a.png");
    assert_error(&get(&app, &app.key, &bad).await, 400, "GET traversal");
    assert_error(&with_json(&app, &app.key, Method::PUT, &bad, &json!({})).await, 400, "PUT traversal");
    app.stop().await;
}

// ---- PutFolder ----------------------------------------------------------------------------

/// A folder made by PutFolder persists while empty and shows in both dialects' listings.
#[tokio::test]
async fn put_folder_creates_an_empty_folder_that_persists() {
    let app = TestApp::spawn().await;
    let (status, body) = put(&app, &app.key, &format!("{A}/Folder?folder=brand")).await;
    assert_eq!(status, 200, "{body}");
    insta::assert_json_snapshot!("put_folder_response", body);
    assert_eq!(body, json!({"folder": "brand"}));
    assert_eq!(subfolders(&app, "").await, ["brand"]);
    assert_eq!(subfolders(&app, "brand").await, Vec::<String>::new());
    assert_eq!(jivox_listing(&app, "").await.1, ["brand"]);
    let (status, list) = get(&app, &app.key, &format!("{A}/AssetList?folder=brand")).await;
    assert_eq!((status, list), (200, json!({"assets": [], "nextToken": null})));
    // Nested, with `Folder` as the parameter name.
    let (status, body) = put(&app, &app.key, &format!("{A}/Folder?Folder=brand/sub/deep")).await;
    assert_eq!((status, body), (200, json!({"folder": "brand/sub/deep"})));
    assert_eq!(subfolders(&app, "brand").await, ["sub"]);
    assert_eq!(subfolders(&app, "brand/sub").await, ["deep"]);
    // A file in it and then deleted: the explicit folder stays.
    store(&app, "brand/tmp.png", png()).await;
    assert_eq!(delete(&app, &app.key, &format!("{A}/Asset?key=brand/tmp.png")).await.0, 200);
    assert_eq!(subfolders(&app, "").await, ["brand"]);
    app.stop().await;
}

/// The seed: "If the folder already exists, a 400 code will be returned."
#[tokio::test]
async fn put_folder_that_exists_is_a_400() {
    let app = TestApp::spawn().await;
    assert_eq!(put(&app, &app.key, &format!("{A}/Folder?folder=f")).await.0, 200);
    assert_400(put(&app, &app.key, &format!("{A}/Folder?folder=f")).await, "Folder 'f' already exists.", "explicit");
    store(&app, "implicit/dir/x.png", png()).await;
    assert_400(
        put(&app, &app.key, &format!("{A}/Folder?folder=implicit")).await,
        "Folder 'implicit' already exists.",
        "implicit parent",
    );
    assert_400(
        put(&app, &app.key, &format!("{A}/Folder?folder=implicit/dir")).await,
        "Folder 'implicit/dir' already exists.",
        "implicit",
    );
    let res = put(&app, &app.key, &format!("{A}/Folder")).await;
    assert_error(&res, 400, "no folder");
    assert!(error_text(&res).to_lowercase().contains("folder"), "{res:?}");
    assert_error(&put(&app, &app.key, &format!("{A}/Folder?folder=")).await, 400, "empty folder");
    assert_400(
        put(&app, &app.key, &format!("{A}/Folder?folder=a/../b")).await,
        "Path contains illegal sequence \"..\" (directory traversal).",
        "traversal",
    );
    assert_error(&put(&app, &app.key, &format!("{A}/Folder?folder=%2Fabs")).await, 400, "absolute");
    assert_eq!(subfolders(&app, "").await, ["f", "implicit"]);
    app.stop().await;
}

// ---- DeleteFolder -------------------------------------------------------------------------

/// The seed: "By default, will also delete all the assets in the folder (including
/// subfolders)."
#[tokio::test]
async fn delete_folder_deletes_everything_below_by_default() {
    let app = TestApp::spawn().await;
    store(&app, "abc/def/a.png", png()).await;
    store(&app, "abc/def/x/y/b.png", png()).await;
    store(&app, "abc/def/x/c.png", png()).await;
    store(&app, "abc/defg/sibling.png", png()).await;
    store(&app, "abc/top.png", png()).await;
    assert_eq!(put(&app, &app.key, &format!("{A}/Folder?folder=abc/def/empty")).await.0, 200);
    assert_eq!(file_status(&app, "abc/def/x/y/b.png").await, 200);
    let (status, body) = delete(&app, &app.key, &format!("{A}/Folder?folder=abc/def")).await;
    assert_eq!(status, 200, "{body}");
    insta::assert_json_snapshot!("delete_folder_response", body);
    assert_eq!(body, json!({"folder": "abc/def", "deleted": true, "assetsDeleted": 3}));
    assert_eq!(subfolders(&app, "abc").await, ["defg"]);
    assert_eq!(list_keys(&app, "folder=abc&recursive=true").await, ["abc/top.png", "abc/defg/sibling.png"]);
    for k in ["abc/def/a.png", "abc/def/x/y/b.png", "abc/def/x/c.png"] {
        assert_eq!(file_status(&app, k).await, 404, "{k}");
    }
    assert_eq!(file_status(&app, "abc/defg/sibling.png").await, 200);
    // It is gone: deleting it again is a 400, GetSubFoldersList of it too.
    assert_400(
        delete(&app, &app.key, &format!("{A}/Folder?folder=abc/def")).await,
        "Folder 'abc/def' does not exist.",
        "again",
    );
    assert_error(&get(&app, &app.key, &format!("{A}/Subfolders?folder=abc/def")).await, 400, "listing it");
    // `deleteAssets=true` spelled out and `DeleteAssets` as the name.
    let (status, body) = delete(&app, &app.key, &format!("{A}/Folder?Folder=abc&DeleteAssets=true")).await;
    assert_eq!((status, body), (200, json!({"folder": "abc", "deleted": true, "assetsDeleted": 2})));
    assert_eq!(subfolders(&app, "").await, Vec::<String>::new());
    app.wait_for_blobs("assets", 0).await;
    // An implicit parent left with nothing goes too; an explicit one stays.
    store(&app, "solo/child/x.png", png()).await;
    assert_eq!(put(&app, &app.key, &format!("{A}/Folder?folder=kept")).await.0, 200);
    store(&app, "kept/child/x.png", png()).await;
    assert_eq!(delete(&app, &app.key, &format!("{A}/Folder?folder=solo/child")).await.0, 200);
    assert_eq!(delete(&app, &app.key, &format!("{A}/Folder?folder=kept/child")).await.0, 200);
    assert_eq!(subfolders(&app, "").await, ["kept"]);
    app.stop().await;
}

/// The seed: "If a folder doesn't exist, a 400 error will be returned."
#[tokio::test]
async fn delete_folder_errors() {
    let app = TestApp::spawn().await;
    assert_400(
        delete(&app, &app.key, &format!("{A}/Folder?folder=nowhere")).await,
        "Folder 'nowhere' does not exist.",
        "missing",
    );
    let res = delete(&app, &app.key, &format!("{A}/Folder")).await;
    assert_error(&res, 400, "no folder");
    assert!(error_text(&res).to_lowercase().contains("folder"), "{res:?}");
    assert_error(&delete(&app, &app.key, &format!("{A}/Folder?folder=")).await, 400, "empty folder");
    assert_error(&delete(&app, &app.key, &format!("{A}/Folder?folder=a/../b")).await, 400, "traversal");
    store(&app, "f/x.png", png()).await;
    assert_error(&delete(&app, &app.key, &format!("{A}/Folder?folder=f&deleteAssets=maybe")).await, 400, "bool");
    assert_eq!(list_keys(&app, "folder=f").await, ["f/x.png"]);
    app.stop().await;
}

/// `deleteAssets=false`: a folder with assets is not deleted (400, nothing removed); an empty
/// one is.
#[tokio::test]
async fn delete_folder_without_assets() {
    let app = TestApp::spawn().await;
    store(&app, "full/x.png", png()).await;
    store(&app, "deep/sub/y.png", png()).await;
    for (query, folder) in [
        ("folder=full&deleteAssets=false", "full"),
        ("folder=deep&deleteAssets=false", "deep"),
        ("FOLDER=full&deleteassets=false", "full"),
    ] {
        assert_400(
            delete(&app, &app.key, &format!("{A}/Folder?{query}")).await,
            &format!("Folder '{folder}' is not empty."),
            query,
        );
    }
    assert_eq!(list_keys(&app, "recursive=true").await, ["deep/sub/y.png", "full/x.png"]);
    assert_eq!(file_status(&app, "deep/sub/y.png").await, 200);

    assert_eq!(put(&app, &app.key, &format!("{A}/Folder?folder=empty")).await.0, 200);
    let (status, body) = delete(&app, &app.key, &format!("{A}/Folder?folder=empty&deleteAssets=false")).await;
    assert_eq!((status, body), (200, json!({"folder": "empty", "deleted": true, "assetsDeleted": 0})));
    assert_eq!(subfolders(&app, "").await, ["deep", "full"]);
    // It can be made again.
    assert_eq!(put(&app, &app.key, &format!("{A}/Folder?folder=empty")).await.0, 200);
    // An explicit empty folder, default deleteAssets.
    let (status, body) = delete(&app, &app.key, &format!("{A}/Folder?folder=empty")).await;
    assert_eq!((status, body), (200, json!({"folder": "empty", "deleted": true, "assetsDeleted": 0})));
    app.stop().await;
}

// ---- GetSubFoldersList --------------------------------------------------------------------

#[tokio::test]
async fn get_subfolders_lists_direct_children_in_name_order() {
    let app = TestApp::spawn().await;
    store(&app, "top.png", png()).await;
    store(&app, "zeta/x.png", png()).await;
    store(&app, "alpha/one/x.png", png()).await;
    store(&app, "alpha/two/deeper/x.png", png()).await;
    store(&app, "alpha/file.png", png()).await;
    assert_eq!(put(&app, &app.key, &format!("{A}/Folder?folder=mid")).await.0, 200);
    assert_eq!(put(&app, &app.key, &format!("{A}/Folder?folder=alpha/empty")).await.0, 200);

    let (status, body) = get(&app, &app.key, &format!("{A}/Subfolders?folder=alpha")).await;
    assert_eq!(status, 200, "{body}");
    insta::assert_json_snapshot!("get_subfolders_response", body);
    assert_eq!(body, json!({"folder": "alpha", "subFolders": ["empty", "one", "two"]}));
    // Root: absent or empty.
    let (status, body) = get(&app, &app.key, &format!("{A}/Subfolders")).await;
    assert_eq!((status, body), (200, json!({"folder": "", "subFolders": ["alpha", "mid", "zeta"]})));
    let (status, body) = get(&app, &app.key, &format!("{A}/Subfolders?folder=")).await;
    assert_eq!((status, body), (200, json!({"folder": "", "subFolders": ["alpha", "mid", "zeta"]})));
    assert_eq!(subfolders(&app, "alpha/two").await, ["deeper"]);
    assert_eq!(subfolders(&app, "zeta").await, Vec::<String>::new());
    let (status, body) = get(&app, &app.key, &format!("{A}/Subfolders?FOLDER=alpha/two")).await;
    assert_eq!((status, body), (200, json!({"folder": "alpha/two", "subFolders": ["deeper"]})));
    app.stop().await;
}

#[tokio::test]
async fn get_subfolders_errors() {
    let app = TestApp::spawn().await;
    store(&app, "a/x.png", png()).await;
    assert_error(&get(&app, &app.key, &format!("{A}/Subfolders?folder=nope")).await, 400, "missing");
    assert_error(&get(&app, &app.key, &format!("{A}/Subfolders?folder=a/nope")).await, 400, "missing child");
    assert_error(&get(&app, &app.key, &format!("{A}/Subfolders?folder=a/x.png")).await, 400, "a file");
    assert_error(&get(&app, &app.key, &format!("{A}/Subfolders?folder=a/../b")).await, 400, "traversal");
    // An empty account's root exists.
    app.account(2).await;
    let other = app.user(2, Role::Owner).await;
    let (status, body) = get(&app, &other, "/2/Assets/Subfolders").await;
    assert_eq!((status, body), (200, json!({"folder": "", "subFolders": []})));
    app.stop().await;
}

// ---- GetAssetList -------------------------------------------------------------------------

#[tokio::test]
async fn get_asset_list_has_the_documented_shape() {
    let app = TestApp::spawn().await;
    store(&app, "shape/b.png", png()).await;
    store(&app, "shape/a.txt", vec![b'a'; 1536]).await;
    store(&app, "shape/sub/c.png", png()).await;
    let (status, body) = get(&app, &app.key, &format!("{A}/AssetList?folder=shape")).await;
    assert_eq!(status, 200, "{body}");
    insta::assert_json_snapshot!("get_asset_list_response", redact(&app, &body), {
        ".assets[].lastModified" => "[lastModified]",
    });
    let assets = body["assets"].as_array().unwrap();
    assert_eq!(assets.len(), 2, "non-recursive: no sub/c.png and no folders");
    assert_eq!(assets[0]["key"], "shape/a.txt");
    assert_eq!(assets[0]["size"], 1536);
    assert_eq!(assets[0]["contentType"], "text/plain");
    assert_eq!(assets[1]["size"], png().len());
    assert_eq!(assets[1]["contentType"], "image/png");
    assert_eq!(assets[1]["url"], url_of(&app, "shape/b.png"));
    for a in assets {
        assert_eq!(a.as_object().unwrap().len(), 5, "{a}");
        let date = a["lastModified"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(date).is_ok() && date.ends_with('Z') && date.len() == 20,
            "{date}"
        );
        let t = chrono::DateTime::parse_from_rfc3339(date).unwrap().timestamp();
        assert!((chrono::Utc::now().timestamp() - t).abs() < 300, "{date} is now");
    }
    assert!(body["nextToken"].is_null());
    app.stop().await;
}

/// Non-recursive: the files directly in the folder, name order. Recursive: every file below,
/// by folder path then name. Root is the default.
#[tokio::test]
async fn get_asset_list_recursive_and_not() {
    let app = TestApp::spawn().await;
    let keys = [
        "r/b.png",
        "r/a.png",
        "r/B.png",
        "r/_u.png",
        "r/x/c.png",
        "r/x/y/d.png",
        "r/w/e.png",
        "r/a/f.png",
        "r/a-b/g.png",
        "r/a/z/h.png",
        "top.png",
        "other/o.png",
    ];
    for k in keys {
        store(&app, k, png()).await;
    }
    // Byte order of names (as on every backend): 'B' < '_' < 'a'.
    let flat = ["r/B.png", "r/_u.png", "r/a.png", "r/b.png"];
    assert_eq!(list_keys(&app, "folder=r").await, flat);
    assert_eq!(list_keys(&app, "folder=r&recursive=false").await, flat);
    // By folder path, then name: "r" < "r/a" < "r/a-b" < "r/a/z" < "r/w" < "r/x" < "r/x/y".
    let deep = [
        "r/B.png",
        "r/_u.png",
        "r/a.png",
        "r/b.png",
        "r/a/f.png",
        "r/a-b/g.png",
        "r/a/z/h.png",
        "r/w/e.png",
        "r/x/c.png",
        "r/x/y/d.png",
    ];
    assert_eq!(list_keys(&app, "folder=r&recursive=true").await, deep);
    assert_eq!(list_keys(&app, "Folder=r&Recursive=true").await, deep, "case-insensitive names");
    assert_eq!(list_keys(&app, "folder=r&recursive=true&pageSize=1").await, deep, "one at a time");
    assert_eq!(list_keys(&app, "folder=r&recursive=true&pageSize=3").await, deep, "three at a time");
    assert_eq!(list_keys(&app, "").await, ["top.png"]);
    assert_eq!(list_keys(&app, "folder=").await, ["top.png"]);
    let all = list_keys(&app, "recursive=true").await;
    assert_eq!(all[0], "top.png");
    assert_eq!(all[1], "other/o.png");
    assert_eq!(&all[2..], deep);
    assert_eq!(list_keys(&app, "recursive=true&pageSize=2").await, all);
    assert_eq!(list_keys(&app, "folder=r/x&recursive=true").await, ["r/x/c.png", "r/x/y/d.png"]);
    assert_eq!(list_keys(&app, "folder=r/a&recursive=true").await, ["r/a/f.png", "r/a/z/h.png"], "not r/a-b");
    app.stop().await;
}

/// `nextToken` pages through until null, without duplicates or gaps, both ways.
#[tokio::test]
async fn get_asset_list_pages() {
    let app = TestApp::spawn().await;
    for k in ["p/1.png", "p/2.png", "p/3.png", "p/4.png", "p/5.png", "p/s/6.png", "p/s/t/7.png", "p/u/8.png"] {
        store(&app, k, png()).await;
    }
    let flat = list_keys(&app, "folder=p").await;
    let deep = list_keys(&app, "folder=p&recursive=true").await;
    assert_eq!(flat.len(), 5);
    assert_eq!(deep.len(), 8);
    for size in 1..=6 {
        assert_eq!(list_keys(&app, &format!("folder=p&pageSize={size}")).await, flat, "pageSize {size}");
        assert_eq!(list_keys(&app, &format!("folder=p&recursive=true&pagesize={size}")).await, deep, "{size}");
    }
    // Page by page: 2 + 2 + 1, the last with a null token.
    let (_, first) = get(&app, &app.key, &format!("{A}/AssetList?folder=p&pageSize=2")).await;
    assert_eq!(first["assets"].as_array().unwrap().len(), 2);
    let token = first["nextToken"].as_str().expect("a token").to_owned();
    let (_, second) =
        get(&app, &app.key, &format!("{A}/AssetList?folder=p&PageSize=2&NextToken={}", enc(&token))).await;
    assert_eq!(second["assets"][0]["key"], "p/3.png");
    let token = second["nextToken"].as_str().expect("a token").to_owned();
    let (_, third) = get(&app, &app.key, &format!("{A}/AssetList?folder=p&pageSize=2&nextToken={}", enc(&token))).await;
    assert_eq!(third["assets"].as_array().unwrap().len(), 1);
    assert!(third["nextToken"].is_null());
    // Exactly a page's worth: the token may be given, and then the next page is empty.
    let (_, exact) = get(&app, &app.key, &format!("{A}/AssetList?folder=p&pageSize=5")).await;
    assert_eq!(exact["assets"].as_array().unwrap().len(), 5);
    if let Some(t) = exact["nextToken"].as_str() {
        let (status, rest) =
            get(&app, &app.key, &format!("{A}/AssetList?folder=p&pageSize=5&nextToken={}", enc(t))).await;
        assert_eq!((status, rest), (200, json!({"assets": [], "nextToken": null})));
    }
    app.stop().await;
}

/// The default page is 100.
#[tokio::test]
async fn get_asset_list_default_page_size_is_100() {
    let app = TestApp::spawn().await;
    let path = format!("{A}/AssetList?folder=many");
    for i in 0..101 {
        let body = json!({"key": format!("many/{i:03}.txt"), "content": base64(b"x")});
        let (status, res) = with_json(&app, &app.key, Method::PUT, &format!("{A}/AssetJSON"), &body).await;
        assert_eq!(status, 200, "{res}");
    }
    let (_, first) = get(&app, &app.key, &path).await;
    assert_eq!(first["assets"].as_array().unwrap().len(), 100);
    let token = first["nextToken"].as_str().expect("a token");
    let (_, second) = get(&app, &app.key, &format!("{path}&nextToken={}", enc(token))).await;
    assert_eq!(second["assets"].as_array().unwrap().len(), 1);
    assert_eq!(second["assets"][0]["key"], "many/100.txt");
    assert!(second["nextToken"].is_null());
    let (_, all) = get(&app, &app.key, &format!("{path}&pageSize=1000")).await;
    assert_eq!(all["assets"].as_array().unwrap().len(), 101);
    assert!(all["nextToken"].is_null());
    app.stop().await;
}

#[tokio::test]
async fn get_asset_list_errors() {
    let app = TestApp::spawn().await;
    store(&app, "e/x.png", png()).await;
    for query in [
        "pageSize=0",
        "pageSize=1001",
        "pageSize=-1",
        "pageSize=ten",
        "nextToken=not-a-token!",
        "nextToken=AAAA",
        "folder=nope",
        "folder=e/nope&recursive=true",
        "folder=e/../x",
        "recursive=maybe",
    ] {
        assert_error(&get(&app, &app.key, &format!("{A}/AssetList?{query}")).await, 400, query);
    }
    assert_eq!(get(&app, &app.key, &format!("{A}/AssetList?pageSize=1000")).await.0, 200);
    assert_eq!(get(&app, &app.key, &format!("{A}/AssetList?pageSize=1")).await.0, 200);
    // A token from one folder's listing used for another's is not a way to peek elsewhere.
    store(&app, "e/y.png", png()).await;
    let (_, page) = get(&app, &app.key, &format!("{A}/AssetList?folder=e&pageSize=1")).await;
    let token = page["nextToken"].as_str().expect("token").to_owned();
    let (status, body) =
        get(&app, &app.key, &format!("{A}/AssetList?folder=&pageSize=1&nextToken={}", enc(&token))).await;
    assert!(status == 400 || body["assets"] == json!([]), "the root has no files of its own: {status} {body}");
    app.stop().await;
}

// ---- CopyAsset ----------------------------------------------------------------------------

#[tokio::test]
async fn copy_asset_copies_content_and_metadata() {
    let app = TestApp::spawn().await;
    store(&app, "c/src.png", png()).await;
    set_metadata(&app, "c/src.png", json!({"owner": "design"})).await;
    let body = json!({"sourceKey": "c/src.png", "destinationKey": "c/copies/dst.png"});
    let (status, res) = with_json(&app, &app.key, Method::POST, &format!("{A}/CopyAsset"), &body).await;
    assert_eq!(status, 200, "{res}");
    insta::assert_json_snapshot!("copy_asset_response", redact(&app, &res));
    assert_eq!(res, json!({"key": "c/copies/dst.png", "url": url_of(&app, "c/copies/dst.png")}));
    assert_eq!(file_bytes(&app, "c/copies/dst.png").await, png());
    assert_eq!(file_bytes(&app, "c/src.png").await, png());
    assert_eq!(metadata(&app, "c/copies/dst.png").await, json!({"owner": "design"}));
    // The copy's metadata is its own.
    set_metadata(&app, "c/copies/dst.png", json!({"owner": "copy"})).await;
    assert_eq!(metadata(&app, "c/src.png").await, json!({"owner": "design"}));
    assert_eq!(list_keys(&app, "folder=c&recursive=true").await, ["c/src.png", "c/copies/dst.png"]);
    // Case-insensitive JSON keys.
    let body = json!({"SourceKey": "c/src.png", "DESTINATIONKEY": "c/2.png", "Overwrite": false});
    assert_eq!(with_json(&app, &app.key, Method::POST, &format!("{A}/CopyAsset"), &body).await.0, 200);
    let body = json!({"sourcekey": "c/src.png", "destinationkey": "c/3.png"});
    assert_eq!(with_json(&app, &app.key, Method::POST, &format!("{A}/CopyAsset"), &body).await.0, 200);
    assert_eq!(file_bytes(&app, "c/3.png").await, png());
    app.stop().await;
}

/// A copy shares the stored content: copying 10 MiB writes no new blob, and the copy outlives
/// the source.
#[tokio::test]
async fn copy_asset_shares_the_blob() {
    let app = TestApp::spawn().await;
    let big: Vec<u8> = (0..10u32 << 20).map(|i| (i % 251) as u8).collect();
    store(&app, "big/src.txt", big.clone()).await;
    store(&app, "big/other.txt", b"other".to_vec()).await;
    assert_eq!(app.blob_count("assets").await, 2);
    let body = json!({"sourceKey": "big/src.txt", "destinationKey": "big/copy.txt"});
    let (status, res) = with_json(&app, &app.key, Method::POST, &format!("{A}/CopyAsset"), &body).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(app.blob_count("assets").await, 2, "the copy wrote a blob");
    // Delete the source, and an unrelated asset whose blob's removal shows cleanup has run.
    assert_eq!(delete(&app, &app.key, &format!("{A}/Asset?key=big/src.txt")).await.0, 200);
    assert_eq!(delete(&app, &app.key, &format!("{A}/Asset?key=big/other.txt")).await.0, 200);
    app.wait_for_blobs("assets", 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.blob_count("assets").await, 1, "the shared blob was removed with the source");
    assert_eq!(file_bytes(&app, "big/copy.txt").await, big);
    // Deleting the copy as well frees the blob.
    assert_eq!(delete(&app, &app.key, &format!("{A}/Asset?key=big/copy.txt")).await.0, 200);
    app.wait_for_blobs("assets", 0).await;
    app.stop().await;
}

#[tokio::test]
async fn copy_asset_errors_and_overwrite() {
    let app = TestApp::spawn().await;
    store(&app, "o/src.txt", b"source".to_vec()).await;
    store(&app, "o/dst.txt", b"destination".to_vec()).await;
    set_metadata(&app, "o/src.txt", json!({"from": "src"})).await;
    let path = format!("{A}/CopyAsset");
    let copy = |body: Value| {
        let app = &app;
        let path = path.clone();
        async move { with_json(app, &app.key, Method::POST, &path, &body).await }
    };
    assert_400(
        copy(json!({"sourceKey": "o/none.txt", "destinationKey": "o/new.txt"})).await,
        "Asset 'o/none.txt' does not exist.",
        "source missing",
    );
    assert_400(
        copy(json!({"sourceKey": "o/src.txt", "destinationKey": "o/dst.txt"})).await,
        "Asset 'o/dst.txt' already exists.",
        "destination exists",
    );
    assert_400(
        copy(json!({"sourceKey": "o/src.txt", "destinationKey": "o/dst.txt", "overwrite": false})).await,
        "Asset 'o/dst.txt' already exists.",
        "overwrite false",
    );
    assert_error(&copy(json!({"sourceKey": "o/src.txt", "destinationKey": "o/src.txt"})).await, 400, "same key");
    assert_error(
        &copy(json!({"sourceKey": "o/src.txt", "destinationKey": "o/src.txt", "overwrite": true})).await,
        400,
        "same key, overwrite",
    );
    let res = copy(json!({"destinationKey": "o/new.txt"})).await;
    assert_error(&res, 400, "no sourceKey");
    assert!(error_text(&res).to_lowercase().contains("sourcekey"), "{res:?}");
    let res = copy(json!({"sourceKey": "o/src.txt"})).await;
    assert_error(&res, 400, "no destinationKey");
    assert!(error_text(&res).to_lowercase().contains("destinationkey"), "{res:?}");
    assert_error(&copy(json!({"sourceKey": "o/src.txt", "destinationKey": "o/../x.txt"})).await, 400, "traversal");
    assert_error(&copy(json!({"sourceKey": "o/src.txt", "destinationKey": "o/x.exe"})).await, 400, "extension");
    assert_error(&copy(json!({"sourceKey": "o/src.txt", "destinationKey": 3})).await, 400, "not a string");
    assert_error(
        &copy(json!({"sourceKey": "o/src.txt", "destinationKey": "o/n.txt", "overwrite": "perhaps"})).await,
        400,
        "overwrite not a boolean",
    );
    assert_error(&copy(json!(["o/src.txt", "o/n.txt"])).await, 400, "not an object");
    for raw in ["{", "", "null", "{\"sourceKey\": \"o/src.txt\",}"] {
        assert_error(&with_raw(&app, &app.key, Method::POST, &path, raw).await, 400, raw);
    }
    assert_eq!(file_bytes(&app, "o/dst.txt").await, b"destination");
    assert_eq!(list_keys(&app, "folder=o").await, ["o/dst.txt", "o/src.txt"]);

    // overwrite: true replaces the destination, content and metadata; its URL stays.
    let (status, res) = copy(json!({"sourceKey": "o/src.txt", "destinationKey": "o/dst.txt", "overwrite": true})).await;
    assert_eq!((status, res), (200, json!({"key": "o/dst.txt", "url": url_of(&app, "o/dst.txt")})));
    assert_eq!(file_bytes(&app, "o/dst.txt").await, b"source");
    assert_eq!(metadata(&app, "o/dst.txt").await, json!({"from": "src"}));
    assert_eq!(file_bytes(&app, "o/src.txt").await, b"source");
    // The destination's old content is no longer referenced: one blob is left, shared.
    app.wait_for_blobs("assets", 1).await;
    app.stop().await;
}

// ---- MoveAssets ---------------------------------------------------------------------------

/// The seed: "The MoveAsset method is equal to using the CopyAsset method, and then the
/// DeleteAsset method."
#[tokio::test]
async fn move_asset_is_copy_then_delete() {
    let app = TestApp::spawn().await;
    store(&app, "mv/only/src.png", png()).await;
    set_metadata(&app, "mv/only/src.png", json!({"k": "v"})).await;
    assert_eq!(file_bytes(&app, "mv/only/src.png").await, png(), "served (and maybe cached) before the move");
    let body = json!({"sourceKey": "mv/only/src.png", "destinationKey": "mv/there/dst.png"});
    let (status, res) = with_json(&app, &app.key, Method::POST, &format!("{A}/MoveAssets"), &body).await;
    assert_eq!(status, 200, "{res}");
    insta::assert_json_snapshot!("move_asset_response", redact(&app, &res));
    assert_eq!(res, json!({"key": "mv/there/dst.png", "url": url_of(&app, "mv/there/dst.png")}));
    assert_eq!(file_status(&app, "mv/only/src.png").await, 404);
    assert_eq!(file_bytes(&app, "mv/there/dst.png").await, png());
    assert_eq!(metadata(&app, "mv/there/dst.png").await, json!({"k": "v"}));
    assert_error(&get(&app, &app.key, &format!("{A}/Asset/AssetMetadata?key=mv/only/src.png")).await, 400, "gone");
    // The implicit folder the source emptied is gone.
    assert_eq!(subfolders(&app, "mv").await, ["there"]);
    assert_eq!(list_keys(&app, "recursive=true").await, ["mv/there/dst.png"]);
    // Case-insensitive keys.
    let body = json!({"SOURCEKEY": "mv/there/dst.png", "DestinationKey": "mv/back.png"});
    assert_eq!(with_json(&app, &app.key, Method::POST, &format!("{A}/MoveAssets"), &body).await.0, 200);
    assert_eq!(list_keys(&app, "recursive=true").await, ["mv/back.png"]);
    // The blob moves with it: nothing is left behind or duplicated.
    app.wait_for_blobs("assets", 1).await;
    app.stop().await;
}

#[tokio::test]
async fn move_asset_errors_and_overwrite() {
    let app = TestApp::spawn().await;
    store(&app, "o/src.txt", b"source".to_vec()).await;
    store(&app, "o/dst.txt", b"destination".to_vec()).await;
    let path = format!("{A}/MoveAssets");
    let mv = |body: Value| {
        let app = &app;
        let path = path.clone();
        async move { with_json(app, &app.key, Method::POST, &path, &body).await }
    };
    assert_400(
        mv(json!({"sourceKey": "o/none.txt", "destinationKey": "o/new.txt"})).await,
        "Asset 'o/none.txt' does not exist.",
        "source missing",
    );
    assert_400(
        mv(json!({"sourceKey": "o/src.txt", "destinationKey": "o/dst.txt"})).await,
        "Asset 'o/dst.txt' already exists.",
        "destination exists",
    );
    assert_error(&mv(json!({"sourceKey": "o/src.txt", "destinationKey": "o/src.txt"})).await, 400, "same key");
    assert_error(&mv(json!({"sourceKey": "o/src.txt"})).await, 400, "no destinationKey");
    assert_error(&mv(json!({"destinationKey": "o/x.txt"})).await, 400, "no sourceKey");
    assert_error(&mv(json!({"sourceKey": "o/src.txt", "destinationKey": "o/x.exe"})).await, 400, "extension");
    for raw in ["{", "", "[]"] {
        assert_error(&with_raw(&app, &app.key, Method::POST, &path, raw).await, 400, raw);
    }
    // Nothing moved.
    assert_eq!(file_bytes(&app, "o/src.txt").await, b"source");
    assert_eq!(file_bytes(&app, "o/dst.txt").await, b"destination");

    let (status, res) = mv(json!({"sourceKey": "o/src.txt", "destinationKey": "o/dst.txt", "overwrite": true})).await;
    assert_eq!((status, res), (200, json!({"key": "o/dst.txt", "url": url_of(&app, "o/dst.txt")})));
    assert_eq!(file_bytes(&app, "o/dst.txt").await, b"source");
    assert_eq!(list_keys(&app, "folder=o").await, ["o/dst.txt"]);
    app.wait_for_blobs("assets", 1).await;
    app.stop().await;
}

// ---- DeleteMultipleAssets -----------------------------------------------------------------

#[tokio::test]
async fn delete_multiple_assets_reports_each_key() {
    let app = TestApp::spawn().await;
    for k in ["dm/a.png", "dm/b.png", "dm/c.png", "dm/keep.png"] {
        store(&app, k, png()).await;
        assert_eq!(file_status(&app, k).await, 200);
    }
    let body = json!({"keys": ["dm/b.png", "dm/missing.png", "dm/a.png", "dm/../x.png", "dm/c.png"]});
    let (status, res) = with_json(&app, &app.key, Method::DELETE, &format!("{A}/MultipleAssets"), &body).await;
    assert_eq!(status, 200, "{res}");
    insta::assert_json_snapshot!("delete_multiple_assets_response", res);
    assert_eq!(
        res,
        json!({
            "deleted": ["dm/b.png", "dm/a.png", "dm/c.png"],
            "failed": [
                {"key": "dm/missing.png", "error": "Asset 'dm/missing.png' does not exist."},
                {"key": "dm/../x.png", "error": "Path contains illegal sequence \"..\" (directory traversal)."},
            ],
        })
    );
    assert_eq!(list_keys(&app, "folder=dm").await, ["dm/keep.png"]);
    for k in ["dm/a.png", "dm/b.png", "dm/c.png"] {
        assert_eq!(file_status(&app, k).await, 404);
    }
    app.wait_for_blobs("assets", 1).await;
    // `Keys`; all failing is still a 200.
    let body = json!({"Keys": ["dm/keep.png", "dm/keep.png"]});
    let (status, res) = with_json(&app, &app.key, Method::DELETE, &format!("{A}/MultipleAssets"), &body).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["deleted"], json!(["dm/keep.png"]));
    assert_eq!(res["failed"], json!([{"key": "dm/keep.png", "error": "Asset 'dm/keep.png' does not exist."}]));
    let body = json!({"KEYS": ["nope.png"]});
    let (status, res) = with_json(&app, &app.key, Method::DELETE, &format!("{A}/MultipleAssets"), &body).await;
    assert_eq!(
        (status, res),
        (200, json!({"deleted": [], "failed": [{"key": "nope.png", "error": "Asset 'nope.png' does not exist."}]}))
    );
    app.stop().await;
}

#[tokio::test]
async fn delete_multiple_assets_errors() {
    let app = TestApp::spawn().await;
    store(&app, "x.png", png()).await;
    let path = format!("{A}/MultipleAssets");
    let too_many: Vec<String> = (0..1001).map(|i| format!("k/{i}.png")).collect();
    let cases = [
        ("empty", json!({"keys": []})),
        ("missing", json!({})),
        ("null", json!({"keys": null})),
        ("not a list", json!({"keys": "x.png"})),
        ("not strings", json!({"keys": [1, 2]})),
        ("over 1000", json!({ "keys": too_many })),
        ("a list body", json!(["x.png"])),
    ];
    for (what, body) in cases {
        let res = with_json(&app, &app.key, Method::DELETE, &path, &body).await;
        assert_error(&res, 400, what);
    }
    let res = with_json(&app, &app.key, Method::DELETE, &path, &json!({})).await;
    assert!(error_text(&res).to_lowercase().contains("keys"), "{res:?}");
    for raw in ["{", "", "{\"keys\": [\"x.png\",]}"] {
        assert_error(&with_raw(&app, &app.key, Method::DELETE, &path, raw).await, 400, raw);
    }
    assert_eq!(list_keys(&app, "").await, ["x.png"]);
    // Exactly 1000 is allowed.
    let thousand: Vec<String> = (0..1000).map(|i| format!("k/{i}.png")).collect();
    let (status, res) = with_json(&app, &app.key, Method::DELETE, &path, &json!({ "keys": thousand })).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["failed"].as_array().unwrap().len(), 1000);
    app.stop().await;
}

// ---- concurrent writes --------------------------------------------------------------------

/// Concurrent requests for one thing: exactly one wins, the others get the documented 400.
#[tokio::test]
async fn concurrent_put_folder_and_copy_have_one_winner() {
    let server = TestApp::spawn().await;
    let app = &server;
    let n = 8;
    let folder_path = format!("{A}/Folder?folder=race");
    let results = futures::future::join_all((0..n).map(|_| put(app, &app.key, &folder_path))).await;
    assert_eq!(results.iter().filter(|r| r.0 == 200).count(), 1, "PutFolder: {results:?}");
    for r in results.iter().filter(|r| r.0 != 200) {
        assert_eq!(r, &(400, json!({"error": "Folder 'race' already exists."})));
    }

    store(app, "c/src.png", png()).await;
    let copy_path = format!("{A}/CopyAsset");
    let body = json!({"sourceKey": "c/src.png", "destinationKey": "c/dst.png"});
    let copies = (0..n).map(|_| with_json(app, &app.key, Method::POST, &copy_path, &body));
    let results = futures::future::join_all(copies).await;
    assert_eq!(results.iter().filter(|r| r.0 == 200).count(), 1, "CopyAsset: {results:?}");
    for r in results.iter().filter(|r| r.0 != 200) {
        assert_eq!(r, &(400, json!({"error": "Asset 'c/dst.png' already exists."})));
    }

    server.stop().await;
}

/// One source moved to several places at once: one move happens, the others are 400s, and a
/// move that fails leaves no copy behind (Copy then Delete must not half-happen).
#[tokio::test]
async fn concurrent_moves_of_one_source_leave_one_copy() {
    let server = TestApp::spawn().await;
    let app = &server;
    let n = 8;
    let move_path = format!("{A}/MoveAssets");
    // A few rounds, as a race need not show in one.
    for round in 0..4 {
        let source = format!("m{round}/src.png");
        store(app, &source, png()).await;
        let moves = (0..n).map(|i| {
            let body = json!({"sourceKey": source, "destinationKey": format!("m{round}/dst{i}.png")});
            let move_path = &move_path;
            async move { with_json(app, &app.key, Method::POST, move_path, &body).await }
        });
        let results = futures::future::join_all(moves).await;
        assert_eq!(results.iter().filter(|r| r.0 == 200).count(), 1, "round {round}: {results:?}");
        for r in results.iter().filter(|r| r.0 != 200) {
            assert_eq!(r, &(400, json!({ "error": format!("Asset '{source}' does not exist.") })));
        }
        let left = list_keys(app, &format!("folder=m{round}")).await;
        assert_eq!(left.len(), 1, "round {round}: the failed moves left copies behind: {left:?}");
    }
    server.stop().await;
}

// ---- one core for all dialects ------------------------------------------------------------

/// What Clinch stores, Jivox lists and `/files` serves; what Jivox stores, Clinch lists, and
/// its metadata is read and written through Clinch.
#[tokio::test]
async fn clinch_and_jivox_share_one_library() {
    let app = TestApp::spawn().await;
    store(&app, "shared/from-clinch.png", png()).await;
    assert_eq!(put(&app, &app.key, &format!("{A}/Folder?folder=shared/empty")).await.0, 200);
    app.put(Some("shared"), "from-jivox.txt", b"jivox".to_vec()).await;
    app.put(Some("shared/jsub"), "deep.txt", b"deep".to_vec()).await;

    let (files, folders) = jivox_listing(&app, "shared").await;
    assert_eq!(files, ["from-clinch.png", "from-jivox.txt"]);
    assert_eq!(folders, ["empty", "jsub"]);
    assert_eq!(
        list_keys(&app, "folder=shared&recursive=true").await,
        ["shared/from-clinch.png", "shared/from-jivox.txt", "shared/jsub/deep.txt"]
    );
    assert_eq!(subfolders(&app, "shared").await, ["empty", "jsub"]);
    assert_eq!(file_bytes(&app, "shared/from-jivox.txt").await, b"jivox");
    let (_, jivox) = app.get_json(&app.key, "/v2/accounts/1/asset-library?prefix=shared").await;
    let clinch_file = jivox["files"].as_array().unwrap().iter().find(|f| f["name"] == "from-clinch.png").unwrap();
    assert_eq!(clinch_file["cdnUrl"], url_of(&app, "shared/from-clinch.png"));

    // Jivox-uploaded: metadata through Clinch.
    assert_eq!(metadata(&app, "shared/from-jivox.txt").await, json!({}));
    set_metadata(&app, "shared/from-jivox.txt", json!({"via": "clinch"})).await;
    assert_eq!(metadata(&app, "shared/from-jivox.txt").await, json!({"via": "clinch"}));
    // Replacing the Jivox asset through Clinch keeps its URL.
    let res = store(&app, "shared/from-jivox.txt", b"clinch".to_vec()).await;
    assert_eq!(res["url"], url_of(&app, "shared/from-jivox.txt"));
    assert_eq!(file_bytes(&app, "shared/from-jivox.txt").await, b"clinch");

    // Deletes in one are seen by the other.
    let (status, _) = app
        .delete_json(&app.key, "/v2/accounts/1/asset-library?command=deleteFile&path=shared&file=from-clinch.png")
        .await;
    assert_eq!(status, 200);
    assert_400(
        get(&app, &app.key, &format!("{A}/Asset/AssetMetadata?key=shared/from-clinch.png")).await,
        "Asset 'shared/from-clinch.png' does not exist.",
        "deleted through Jivox",
    );
    assert_eq!(delete(&app, &app.key, &format!("{A}/Folder?folder=shared/jsub")).await.0, 200);
    assert_eq!(jivox_listing(&app, "shared").await, (vec!["from-jivox.txt".to_owned()], vec!["empty".to_owned()]));
    // Jivox's deleteFolder removes a folder made by PutFolder.
    let (status, _) =
        app.delete_json(&app.key, "/v2/accounts/1/asset-library?command=deleteFolder&path=shared/empty").await;
    assert_eq!(status, 200);
    assert_eq!(subfolders(&app, "shared").await, Vec::<String>::new());
    app.stop().await;
}

// ---- malformed requests -------------------------------------------------------------------

/// No route answers a malformed body or a missing parameter with anything but a 400 that
/// names the problem.
#[tokio::test]
async fn malformed_requests_are_400_never_500() {
    let app = TestApp::spawn().await;
    store(&app, "x.png", png()).await;
    let json_routes = [
        (Method::PUT, format!("{A}/AssetJSON")),
        (Method::PUT, format!("{A}/Asset/AssetMetadata?key=x.png")),
        (Method::POST, format!("{A}/CopyAsset")),
        (Method::POST, format!("{A}/MoveAssets")),
        (Method::DELETE, format!("{A}/MultipleAssets")),
    ];
    let bodies = ["", "{", "}", "[", "nul", "{\"a\":", "\u{0}", "{\"key\": \"x.png\" \"x\": 1}", "1e999999"];
    for (method, path) in &json_routes {
        for raw in bodies {
            let res = with_raw(&app, &app.key, method.clone(), path, raw).await;
            assert_error(&res, 400, &format!("{method} {path} {raw:?}"));
        }
        // No content type at all, and a wrong one.
        let res = send(req(&app, &app.key, method.clone(), path).body("{}")).await;
        assert!(res.0 == 400 || res.0 == 200 || res.0 == 415, "{method} {path} no content type: {res:?}");
        assert!(res.0 != 200 || path.contains("AssetMetadata"), "{method} {path}: {res:?}");
        let res = send(req(&app, &app.key, method.clone(), path).header("content-type", "text/plain").body("x")).await;
        assert!(res.0 == 400 || res.0 == 415, "{method} {path} text/plain: {res:?}");
        assert_error(&res, res.0, path);
    }
    let missing = [
        (Method::DELETE, format!("{A}/Asset"), "key"),
        (Method::GET, format!("{A}/Asset/AssetMetadata"), "key"),
        (Method::PUT, format!("{A}/Folder"), "folder"),
        (Method::DELETE, format!("{A}/Folder"), "folder"),
    ];
    for (method, path, param) in missing {
        let res = send(req(&app, &app.key, method.clone(), &path)).await;
        assert_error(&res, 400, &format!("{method} {path}"));
        assert!(error_text(&res).to_lowercase().contains(param), "{method} {path}: {res:?}");
    }
    // Bad percent-encoding and repeated parameters do not upset anything.
    for query in ["key=%ZZ", "key=%", "key=x.png&key=y.png", "key=x.png&Key=y.png"] {
        let res = get(&app, &app.key, &format!("{A}/Asset/AssetMetadata?{query}")).await;
        assert!(res.0 == 200 || res.0 == 400, "{query}: {res:?}");
    }
    app.stop().await;
}

// ---- authentication and tenancy -----------------------------------------------------------

enum Body {
    Nothing,
    Json(Value),
    File(&'static str),
}

struct Route {
    op: &'static str,
    method: Method,
    /// Under `/{AccountId}/Assets`.
    path: &'static str,
    body: Body,
    write: bool,
}

/// Every route once, against the fixture [`tenancy_fixture`] makes in account 1.
fn every_route() -> Vec<Route> {
    let png64 = base64(&png());
    vec![
        Route {
            op: "PutAsset",
            method: Method::PUT,
            path: "/Asset?key=t/new.png",
            body: Body::File("new.png"),
            write: true,
        },
        Route {
            op: "PutAsset (POST)",
            method: Method::POST,
            path: "/Asset?key=t/new2.png",
            body: Body::File("new2.png"),
            write: true,
        },
        Route {
            op: "PutAssetJSON",
            method: Method::PUT,
            path: "/AssetJSON",
            body: Body::Json(json!({"key": "t/new3.png", "content": png64})),
            write: true,
        },
        Route {
            op: "DeleteAsset",
            method: Method::DELETE,
            path: "/Asset?key=t/x.png",
            body: Body::Nothing,
            write: true,
        },
        Route {
            op: "PutAssetMetadata",
            method: Method::PUT,
            path: "/Asset/AssetMetadata?key=t/x.png",
            body: Body::Json(json!({"changed": "yes"})),
            write: true,
        },
        Route {
            op: "GetAssetMetadata",
            method: Method::GET,
            path: "/Asset/AssetMetadata?key=t/x.png",
            body: Body::Nothing,
            write: false,
        },
        Route { op: "PutFolder", method: Method::PUT, path: "/Folder?folder=newf", body: Body::Nothing, write: true },
        Route {
            op: "DeleteFolder",
            method: Method::DELETE,
            path: "/Folder?folder=t",
            body: Body::Nothing,
            write: true,
        },
        Route {
            op: "GetSubFoldersList",
            method: Method::GET,
            path: "/Subfolders?folder=",
            body: Body::Nothing,
            write: false,
        },
        Route {
            op: "GetAssetList",
            method: Method::GET,
            path: "/AssetList?folder=t&recursive=true",
            body: Body::Nothing,
            write: false,
        },
        Route {
            op: "CopyAsset",
            method: Method::POST,
            path: "/CopyAsset",
            body: Body::Json(json!({"sourceKey": "t/x.png", "destinationKey": "t/copy.png"})),
            write: true,
        },
        Route {
            op: "MoveAssets",
            method: Method::POST,
            path: "/MoveAssets",
            body: Body::Json(json!({"sourceKey": "t/y.png", "destinationKey": "t/moved.png"})),
            write: true,
        },
        Route {
            op: "DeleteMultipleAssets",
            method: Method::DELETE,
            path: "/MultipleAssets",
            body: Body::Json(json!({"keys": ["t/x.png", "t/y.png"]})),
            write: true,
        },
    ]
}

/// Calls `route` on `account` with `key` (`None`: no header).
async fn call(app: &TestApp, key: Option<&str>, account: &str, route: &Route) -> (u16, Value) {
    let url = app.url(&format!("/{account}/Assets{}", route.path));
    let mut req = app.client.request(route.method.clone(), url);
    if let Some(key) = key {
        req = req.header("X-ApiKey", key);
    }
    req = match &route.body {
        Body::Nothing => req,
        Body::Json(v) => req.json(v),
        Body::File(name) => req.multipart(Form::new().part("file", Part::bytes(png()).file_name(name.to_string()))),
    };
    send(req).await
}

async fn tenancy_fixture(app: &TestApp) {
    store(app, "t/x.png", png()).await;
    store(app, "t/y.png", png()).await;
    set_metadata(app, "t/x.png", json!({"orig": "1"})).await;
    assert_eq!(put(app, &app.key, &format!("{A}/Folder?folder=e")).await.0, 200);
}

/// Everything observable about account 1: its files, folders and t/x.png's metadata.
async fn snapshot_of_account(app: &TestApp) -> Value {
    json!({
        "keys": list_keys(app, "recursive=true").await,
        "root": subfolders(app, "").await,
        "t": subfolders(app, "t").await,
        "metadata": metadata(app, "t/x.png").await,
        "blobs": app.blob_count("assets").await,
    })
}

#[tokio::test]
async fn requests_without_a_valid_key_are_401_on_every_route() {
    let app = TestApp::spawn().await;
    tenancy_fixture(&app).await;
    let before = snapshot_of_account(&app).await;
    for route in every_route() {
        let res = call(&app, None, "1", &route).await;
        assert_eq!(res, (401, json!({"error": "Missing API key: send it in the X-ApiKey header."})), "{}", route.op);
        let res = call(&app, Some("alk_wrong"), "1", &route).await;
        assert_eq!(res, (401, json!({"error": "Invalid API key."})), "{}", route.op);
        let res = call(&app, Some(""), "1", &route).await;
        assert_error(&res, 401, route.op);
    }
    // The Jivox header is not this dialect's.
    let res = send(app.client.get(app.url(&format!("{A}/Subfolders"))).header("jvx_apikey", &app.key)).await;
    assert_error(&res, 401, "jvx_apikey");
    assert_eq!(snapshot_of_account(&app).await, before);
    app.stop().await;
}

/// Another account's key is a 403 on every route, and nothing changes.
#[tokio::test]
async fn another_accounts_key_is_403_on_every_route() {
    let app = TestApp::spawn().await;
    app.account(2).await;
    let other = app.user(2, Role::Owner).await;
    tenancy_fixture(&app).await;
    let before = snapshot_of_account(&app).await;
    for route in every_route() {
        let res = call(&app, Some(&other), "1", &route).await;
        assert_error(&res, 403, route.op);
        // An account that does not exist is as unreachable as another's.
        let res = call(&app, Some(&other), "99", &route).await;
        assert_error(&res, 403, &format!("{} on account 99", route.op));
        // Missing or malformed parameters do not get a 400 first: the account is checked
        // before anything else the request says.
        let bare = Route { path: route.path.split('?').next().unwrap_or(route.path), body: Body::Nothing, ..route };
        let res = call(&app, Some(&other), "1", &bare).await;
        assert_error(&res, 403, &format!("{} without its parameters", bare.op));
    }
    assert_eq!(snapshot_of_account(&app).await, before);
    // Account 2 got nothing either.
    let (status, body) = get(&app, &other, "/2/Assets/AssetList?recursive=true").await;
    assert_eq!((status, body), (200, json!({"assets": [], "nextToken": null})));
    assert_eq!(get(&app, &other, "/2/Assets/Subfolders").await.1["subFolders"], json!([]));
    app.stop().await;
}

/// A viewer reads; every write route is a 403 and nothing changes. A read-only key alike.
#[tokio::test]
async fn viewers_and_read_only_keys_read_but_do_not_write() {
    let app = TestApp::spawn().await;
    tenancy_fixture(&app).await;
    let viewer = app.user(1, Role::Viewer).await;
    let read_only = read_only_key(&app).await;
    let before = snapshot_of_account(&app).await;
    for key in [&viewer, &read_only] {
        for route in every_route() {
            let res = call(&app, Some(key), "1", &route).await;
            if route.write {
                assert_error(&res, 403, route.op);
            } else {
                assert_eq!(res.0, 200, "{}: {}", route.op, res.1);
            }
        }
    }
    assert_eq!(snapshot_of_account(&app).await, before);
    // The same routes with an editor's key all succeed (the table is not wrong), each on a
    // fresh t/x.png and t/y.png.
    let editor = app.user(1, Role::Editor).await;
    for route in every_route() {
        store(&app, "t/x.png", png()).await;
        store(&app, "t/y.png", png()).await;
        let res = call(&app, Some(&editor), "1", &route).await;
        assert_eq!(res.0, 200, "{} as editor: {}", route.op, res.1);
    }
    app.stop().await;
}

/// `AccountId` must be a positive integer.
#[tokio::test]
async fn account_id_must_be_a_positive_integer() {
    let app = TestApp::spawn().await;
    for account in ["abc", "0", "-1", "1.5", "99999999999999999999999"] {
        for route in every_route() {
            let res = call(&app, Some(&app.key), account, &route).await;
            assert_error(&res, 400, &format!("{} on account {account}", route.op));
        }
    }
    app.stop().await;
}

/// A platform admin reaches every account; an account that does not exist is then a 400
/// (SPEC 5.3: missing things are 400s in this dialect).
#[tokio::test]
async fn an_admin_key_reaches_every_account() {
    let app = TestApp::spawn().await;
    app.account(2).await;
    let admin = app.admin().await;
    let form = Form::new().part("file", Part::bytes(png()).file_name("a.png"));
    let (status, body) = send(req(&app, &admin, Method::PUT, "/2/Assets/Asset?folder=adm").multipart(form)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["url"], format!("{}/files/2/adm/a.png", app.base));
    let (status, body) = get(&app, &admin, "/2/Assets/AssetList?folder=adm").await;
    assert_eq!((status, body["assets"][0]["key"].clone()), (200, json!("adm/a.png")));
    assert_eq!(get(&app, &admin, &format!("{A}/Subfolders")).await.0, 200);
    assert_400(get(&app, &admin, "/99/Assets/Subfolders").await, "Account 99 not found.", "account 99");
    app.stop().await;
}
