//! The Jivox Asset Library API, statement by statement of the seed
//! (`shared/seeds/000_373ac3119b0235a6.txt`) and of SPEC section 5.1.

mod common;

use assetlib_core::model::Role;
use common::{TestApp, png};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

const LIB: &str = "/v2/accounts/1/asset-library";

fn names(v: &Value, field: &str) -> Vec<String> {
    v[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| if field == "files" { e["name"].as_str().unwrap().to_owned() } else { e.as_str().unwrap().to_owned() })
        .collect()
}

// ---- Get Assets ---------------------------------------------------------------------------

/// "GET <api-url>/v2/accounts/:accountId/asset-library" with the sample's shape:
/// files {cdnUrl, date, name, size}, folders, nextKey, path.
#[tokio::test]
async fn get_assets_has_the_sample_response_shape() {
    let app = TestApp::spawn_with(|c| c.public_base_url = Some("https://cdn.example.com".into())).await;
    let kb225 = vec![7u8; 2304]; // "2.25 KB"
    app.put(Some("abc/def"), "test1.png", kb225.clone()).await;
    app.put(Some("abc/def"), "test2.png", kb225).await;
    app.put(Some("abc/def/testfolder1"), "inner.png", png()).await;
    let (status, body) = app.get_json(&app.key, &format!("{LIB}?limit=3&prefix=abc/def")).await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("get_assets_sample", body, {".files[].date" => "[date]"});
    assert_eq!(body["files"][0]["cdnUrl"], "https://cdn.example.com/files/1/abc/def/test1.png");
    let date = body["files"][0]["date"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(date).is_ok() && date.ends_with('Z') && date.len() == 20, "{date}");
    app.stop().await;
}

/// "If there is no next page, nextKey would be null." `limit` counts files and folders, which
/// merge in name order; `nextKey` walks the rest.
#[tokio::test]
async fn pagination_merges_files_and_folders_in_name_order() {
    let app = TestApp::spawn().await;
    for name in ["a.png", "c.png", "e.png"] {
        app.put(Some("p"), name, png()).await;
    }
    for folder in ["b", "d", "f"] {
        app.put(Some(&format!("p/{folder}")), "x.png", png()).await;
    }
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut url = format!("{LIB}?prefix=p&limit=2");
        if let Some(k) = &next {
            url.push_str(&format!("&nextKey={k}"));
        }
        let (status, body) = app.get_json(&app.key, &url).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["path"], "p");
        let page: Vec<String> = names(&body, "files").into_iter().chain(names(&body, "folders")).collect();
        assert!(page.len() <= 2);
        seen.extend(page);
        pages += 1;
        match body["nextKey"].as_str() {
            Some(k) => next = Some(k.to_owned()),
            None => {
                assert!(body["nextKey"].is_null());
                break;
            }
        }
        assert!(pages < 10);
    }
    assert_eq!(pages, 3);
    seen.sort();
    assert_eq!(seen, ["a.png", "b", "c.png", "d", "e.png", "f"]);
    // The first page in one call: merged order a.png, b.
    let (_, first) = app.get_json(&app.key, &format!("{LIB}?prefix=p&limit=2")).await;
    assert_eq!(names(&first, "files"), ["a.png"]);
    assert_eq!(names(&first, "folders"), ["b"]);
    // Default limit 100 covers everything: one page, nextKey null.
    let (_, all) = app.get_json(&app.key, &format!("{LIB}?prefix=p")).await;
    assert_eq!(names(&all, "files").len() + names(&all, "folders").len(), 6);
    assert!(all["nextKey"].is_null());
    app.stop().await;
}

#[tokio::test]
async fn listing_is_one_level_and_prefix_tolerates_a_trailing_slash() {
    let app = TestApp::spawn().await;
    app.put(None, "root.png", png()).await;
    app.put(Some("abc/def/deep"), "x.png", png()).await;
    let (_, root) = app.get_json(&app.key, LIB).await;
    assert_eq!(names(&root, "files"), ["root.png"]);
    assert_eq!(names(&root, "folders"), ["abc"]);
    assert_eq!(root["path"], "");
    let (_, abc) = app.get_json(&app.key, &format!("{LIB}?prefix=abc/")).await;
    assert_eq!(abc["path"], "abc");
    assert_eq!(names(&abc, "folders"), ["def"]);
    assert!(names(&abc, "files").is_empty());
    let (status, none) = app.get_json(&app.key, &format!("{LIB}?prefix=nothing/here")).await;
    assert_eq!(status, 200);
    assert_eq!(none, json!({"files": [], "folders": [], "nextKey": null, "path": "nothing/here"}));
    app.stop().await;
}

/// Sizes are human-readable, 1024-based, two decimals.
#[tokio::test]
async fn sizes_are_human_readable() {
    let app = TestApp::spawn().await;
    app.put(None, "a.txt", vec![b'a'; 512]).await;
    app.put(None, "b.txt", vec![b'b'; 1536 * 1024]).await;
    let (_, body) = app.get_json(&app.key, LIB).await;
    assert_eq!(body["files"][0]["size"], "512 B");
    assert_eq!(body["files"][1]["size"], "1.50 MB");
    app.stop().await;
}

/// "Path and filename validations apply" to `prefix`; bad `limit` and `nextKey` are 400s.
#[tokio::test]
async fn get_assets_rejects_bad_parameters() {
    let app = TestApp::spawn().await;
    let cases = [
        ("prefix=abc/../etc", "Path contains illegal sequence \"..\" (directory traversal)."),
        ("prefix=%2Fetc", "Path must not start with \"/\" (absolute path)."),
        ("prefix=a%00b", "Path contains a null byte (\\u0000)."),
        ("limit=0", "Invalid limit '0': it must be an integer from 1 to 1000."),
        ("limit=1001", "Invalid limit '1001': it must be an integer from 1 to 1000."),
        ("limit=ten", "Invalid limit 'ten': it must be an integer from 1 to 1000."),
        ("nextKey=not-a-key!", "Invalid nextKey."),
    ];
    for (query, msg) in cases {
        let (status, body) = app.get_json(&app.key, &format!("{LIB}?{query}")).await;
        assert_eq!((status, body), (400, json!({ "msg": msg })), "{query}");
    }
    let (status, _) = app.get_json(&app.key, &format!("{LIB}?limit=1000")).await;
    assert_eq!(status, 200);
    let (status, body) = app.get_json(&app.key, "/v2/accounts/abc/asset-library").await;
    assert_eq!((status, body), (400, json!({"msg": "Invalid accountId 'abc': it must be a positive integer."})));
    app.stop().await;
}

// ---- Upload File/Zip ----------------------------------------------------------------------

/// The sample response `{"queueId": "<32 hex>"}`, and a single file's queue is Completed.
#[tokio::test]
async fn upload_returns_a_queue_id_and_the_queue_completes() {
    let app = TestApp::spawn().await;
    let res = app.upload(&app.key, 1, Some("test/uploads/"), "test.png", png()).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    insta::assert_json_snapshot!("upload_response", body, {".queueId" => "[queueId]"});
    let queue = body["queueId"].as_str().unwrap();
    assert!(queue.len() == 32 && queue.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));

    let (status, detailed) = app.get_json(&app.key, &format!("/v2/queues/{queue}/status")).await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("queue_detailed_status", detailed, {".id" => "[queueId]"});
    assert_eq!(detailed["id"], queue);
    let (status, summary) = app.get_json(&app.key, &format!("/v2/queues/{queue}")).await;
    assert_eq!(status, 200);
    assert_eq!(summary, json!({"message": "Number of assets uploaded: 1", "status": "Completed"}));

    // "test/uploads/" is the folder the file goes to.
    let (_, listing) = app.get_json(&app.key, &format!("{LIB}?prefix=test/uploads")).await;
    assert_eq!(names(&listing, "files"), ["test.png"]);
    app.stop().await;
}

/// `path` is optional: without it the file goes to the root.
#[tokio::test]
async fn upload_without_path_goes_to_the_root() {
    let app = TestApp::spawn().await;
    app.put(None, "top.png", png()).await;
    let (_, listing) = app.get_json(&app.key, LIB).await;
    assert_eq!(names(&listing, "files"), ["top.png"]);
    app.stop().await;
}

/// Every type of the seed's "Allowed File Types" table is accepted.
#[tokio::test]
async fn every_allowed_type_of_the_seed_is_accepted() {
    let app = TestApp::spawn().await;
    let table = [
        "jpg", "jpeg", "png", "gif", "webp", "svg", "bmp", "tiff", "ico", "pdf", "doc", "docx", "xls", "xlsx", "ppt",
        "pptx", "txt", "rtf", "csv", "mp4", "avi", "mov", "wmv", "flv", "webm", "mkv", "mp3", "wav", "ogg", "m4a",
        "html", "htm", "css", "js", "json", "xml", "ttf", "otf", "woff", "woff2",
    ];
    for ext in table {
        app.put(Some("types"), &format!("f.{ext}"), b"content".to_vec()).await;
    }
    let (_, listing) = app.get_json(&app.key, &format!("{LIB}?prefix=types&limit=1000")).await;
    assert_eq!(names(&listing, "files").len(), table.len());
    app.stop().await;
}

/// "File extension must be in the allowed file types list", with the seed's message.
#[tokio::test]
async fn disallowed_extensions_are_refused_with_the_seed_message() {
    let app = TestApp::spawn().await;
    let res = app.upload(&app.key, 1, None, "setup.exe", b"x".to_vec()).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    let msg = body["msg"].as_str().unwrap();
    assert!(msg.starts_with("File extension 'exe' is not allowed. Allowed: jpg, jpeg, png, gif, webp, svg,"), "{msg}");
    assert_eq!(body.as_object().unwrap().len(), 1);
    let (_, listing) = app.get_json(&app.key, LIB).await;
    assert_eq!(names(&listing, "files").len(), 0);
    app.stop().await;
}

/// "Maximum file size: 10 MB": exactly 10 MiB is stored; one byte more is a 413 and nothing
/// is stored.
#[tokio::test]
async fn size_limit_is_ten_megabytes() {
    let app = TestApp::spawn().await;
    app.put(None, "max.bin.txt", vec![b'x'; 10 << 20]).await;
    let res = app.upload(&app.key, 1, None, "over.txt", vec![b'x'; (10 << 20) + 1]).await;
    assert_eq!(res.status(), 413);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"msg": "File size exceeds the maximum allowed size of 10 MB."})
    );
    let (_, listing) = app.get_json(&app.key, LIB).await;
    assert_eq!(names(&listing, "files"), ["max.bin.txt"]);
    assert_eq!(app.blob_count("assets").await, 1, "the refused upload left a blob");
    app.stop().await;
}

/// "If multiple files are attached, only the first file is processed."
#[tokio::test]
async fn only_the_first_file_is_processed() {
    let app = TestApp::spawn().await;
    let form = Form::new()
        .text("path", "multi")
        .part("file", Part::bytes(b"first".to_vec()).file_name("first.txt"))
        .part("file", Part::bytes(b"second".to_vec()).file_name("second.txt"));
    let res = app.client.post(app.url(LIB)).header("jvx_apikey", &app.key).multipart(form).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let (_, listing) = app.get_json(&app.key, &format!("{LIB}?prefix=multi")).await;
    assert_eq!(names(&listing, "files"), ["first.txt"]);
    app.stop().await;
}

/// `path` may come before or after the file part.
#[tokio::test]
async fn path_may_follow_the_file() {
    let app = TestApp::spawn().await;
    let form = Form::new().part("file", Part::bytes(png()).file_name("late.png")).text("path", "after/file");
    let res = app.client.post(app.url(LIB)).header("jvx_apikey", &app.key).multipart(form).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let (_, listing) = app.get_json(&app.key, &format!("{LIB}?prefix=after/file")).await;
    assert_eq!(names(&listing, "files"), ["late.png"]);
    // A bad path after the file is refused too, and nothing stays behind.
    let form = Form::new().part("file", Part::bytes(png()).file_name("bad.png")).text("path", "../up");
    let res = app.client.post(app.url(LIB)).header("jvx_apikey", &app.key).multipart(form).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(app.blob_count("assets").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn upload_without_a_file_or_multipart_is_a_400() {
    let app = TestApp::spawn().await;
    let form = Form::new().text("path", "x");
    let res = app.client.post(app.url(LIB)).header("jvx_apikey", &app.key).multipart(form).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"msg": "Parameter 'file' is required."}));
    let res = app.client.post(app.url(LIB)).header("jvx_apikey", &app.key).body("plain").send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"msg": "Expected a multipart/form-data body."}));
    app.stop().await;
}

/// Executables are refused whatever their name (SPEC section 3).
#[tokio::test]
async fn executables_are_refused_whatever_their_name() {
    let app = TestApp::spawn().await;
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.resize(4096, 0);
    let res = app.upload(&app.key, 1, None, "innocent.png", elf).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"msg": "Executable files are not allowed."}));
    assert_eq!(app.blob_count("assets").await, 0);
    app.stop().await;
}

/// Uploading to an existing key replaces the content and keeps the asset's id and URL.
#[tokio::test]
async fn replacing_a_key_keeps_id_and_url() {
    let app = TestApp::spawn().await;
    app.put(Some("r"), "same.txt", b"one".to_vec()).await;
    let owner = app.owner().await;
    let before = app.lib().find_asset(&owner, assetlib_core::AccountId(1), "r/same.txt").await.unwrap();
    app.put(Some("r"), "same.txt", b"two!".to_vec()).await;
    let after = app.lib().find_asset(&owner, assetlib_core::AccountId(1), "r/same.txt").await.unwrap();
    assert_eq!(before.id, after.id);
    assert_eq!(before.created_at, after.created_at);
    assert_ne!(before.hash, after.hash);
    let (_, listing) = app.get_json(&app.key, &format!("{LIB}?prefix=r")).await;
    assert_eq!(listing["files"].as_array().unwrap().len(), 1);
    let served = app.client.get(app.url("/files/1/r/same.txt")).send().await.unwrap().text().await.unwrap();
    assert_eq!(served, "two!");
    app.stop().await;
}

// ---- Path and filename validation rules ---------------------------------------------------

/// Each rule of the seed's "Path and filename Validation Rules", through the upload `path`,
/// with the seed's messages where it gives them.
#[tokio::test]
async fn each_validation_rule_is_enforced_on_upload() {
    let app = TestApp::spawn().await;
    let long = "a".repeat(510);
    let cases: Vec<(&str, &str, String)> = vec![
        ("a\0b", "x.png", "Path contains a null byte (\\u0000).".into()),
        ("a\u{1}b", "x.png", "Path contains a control character (U+0001).".into()),
        ("a\u{7f}", "x.png", "Path contains a disallowed character (U+007F).".into()),
        ("a\u{85}", "x.png", "Path contains a disallowed character (U+0085).".into()),
        ("caf\u{e9}", "x.png", "Path contains a disallowed character (U+00E9).".into()),
        ("abc/../def", "x.png", "Path contains illegal sequence \"..\" (directory traversal).".into()),
        ("abc/./def", "x.png", "Path contains illegal sequence \"./\" (directory traversal).".into()),
        ("/abs", "x.png", "Path must not start with \"/\" (absolute path).".into()),
        ("abc//def", "x.png", "Path contains illegal sequence \"//\".".into()),
        (long.as_str(), "x.png", "Path exceeds max length of 512 characters.".into()),
    ];
    for (path, name, msg) in cases {
        let res = app.upload(&app.key, 1, Some(path), name, png()).await;
        assert_eq!(res.status(), 400, "{path:?}");
        assert_eq!(res.json::<Value>().await.unwrap(), json!({ "msg": msg }), "{path:?}");
    }
    // 507 + "/x.png" = 513 characters: over; 506 + 6 = 512: allowed.
    let res = app.upload(&app.key, 1, Some(&"b".repeat(506)), "x.png", png()).await;
    assert_eq!(res.status(), 200);
    let (_, listing) = app.get_json(&app.key, LIB).await;
    assert_eq!(names(&listing, "folders"), ["b".repeat(506)]);
    app.stop().await;
}

/// "File names must not end with /" (deleteFile takes the file name as given).
#[tokio::test]
async fn file_names_must_not_end_with_a_slash() {
    let app = TestApp::spawn().await;
    let (status, body) = app.delete_json(&app.key, &format!("{LIB}?command=deleteFile&file=dir/")).await;
    assert_eq!((status, body), (400, json!({"msg": "File name must not end with \"/\"."})));
    app.stop().await;
}

// ---- Upload status ------------------------------------------------------------------------

#[tokio::test]
async fn unknown_queues_are_404() {
    let app = TestApp::spawn().await;
    for id in ["0123456789abcdef0123456789abcdef", "1be2a28728d147af8b9f4a3358", "nothex"] {
        for suffix in ["", "/status"] {
            let (status, body) = app.get_json(&app.key, &format!("/v2/queues/{id}{suffix}")).await;
            assert_eq!((status, body), (404, json!({"msg": "Queue not found."})), "{id}{suffix}");
        }
    }
    app.stop().await;
}

// ---- Delete Assets/Asset Folders ----------------------------------------------------------

/// "command=deleteFile&file=testfile.png" (root) and "...&path=abc/def&file=testfile.png".
#[tokio::test]
async fn delete_file_with_and_without_path() {
    let app = TestApp::spawn().await;
    app.put(None, "testfile.png", png()).await;
    app.put(Some("abc/def"), "testfile.png", png()).await;
    app.put(Some("abc/def"), "keep.png", png()).await;
    let (status, body) = app.delete_json(&app.key, &format!("{LIB}?command=deleteFile&file=testfile.png")).await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("delete_response", body);
    let (status, body) =
        app.delete_json(&app.key, &format!("{LIB}?command=deleteFile&path=abc/def&file=testfile.png")).await;
    assert_eq!((status, body), (200, json!({"msg": "Deleted successfully"})));
    let (_, root) = app.get_json(&app.key, LIB).await;
    assert!(names(&root, "files").is_empty());
    let (_, def) = app.get_json(&app.key, &format!("{LIB}?prefix=abc/def")).await;
    assert_eq!(names(&def, "files"), ["keep.png"]);
    let gone = app.client.get(app.url("/files/1/abc/def/testfile.png")).send().await.unwrap();
    assert_eq!(gone.status(), 404);
    app.stop().await;
}

/// "command=deleteFolder&path=abc/def": the folder and everything below it go.
#[tokio::test]
async fn delete_folder_removes_the_subtree_only() {
    let app = TestApp::spawn().await;
    app.put(Some("abc/def"), "a.png", png()).await;
    app.put(Some("abc/def/x/y"), "b.png", png()).await;
    app.put(Some("abc/defg"), "sibling.png", png()).await;
    app.put(Some("abc"), "c.png", png()).await;
    let (status, body) = app.delete_json(&app.key, &format!("{LIB}?command=deleteFolder&path=abc/def")).await;
    assert_eq!((status, body), (200, json!({"msg": "Deleted successfully"})));
    let (_, abc) = app.get_json(&app.key, &format!("{LIB}?prefix=abc")).await;
    assert_eq!(names(&abc, "folders"), ["defg"]);
    assert_eq!(names(&abc, "files"), ["c.png"]);
    assert_eq!(app.client.get(app.url("/files/1/abc/def/x/y/b.png")).send().await.unwrap().status(), 404);
    assert_eq!(app.client.get(app.url("/files/1/abc/defg/sibling.png")).send().await.unwrap().status(), 200);
    app.stop().await;
}

/// "Deleting a non-existent file is considered a success operation."
#[tokio::test]
async fn deleting_what_does_not_exist_succeeds() {
    let app = TestApp::spawn().await;
    for query in [
        "command=deleteFile&file=nope.png",
        "command=deleteFile&path=no/where&file=x.png",
        "command=deleteFolder&path=no/where",
    ] {
        let (status, body) = app.delete_json(&app.key, &format!("{LIB}?{query}")).await;
        assert_eq!((status, body), (200, json!({"msg": "Deleted successfully"})), "{query}");
    }
    app.stop().await;
}

/// "If all the files inside a path are deleted, that path would also be removed."
#[tokio::test]
async fn emptied_paths_are_removed() {
    let app = TestApp::spawn().await;
    app.put(Some("abc/def"), "only.png", png()).await;
    app.put(Some("abc"), "stay.png", png()).await;
    app.delete_json(&app.key, &format!("{LIB}?command=deleteFile&path=abc/def&file=only.png")).await;
    let (_, abc) = app.get_json(&app.key, &format!("{LIB}?prefix=abc")).await;
    assert!(names(&abc, "folders").is_empty(), "{abc}");
    app.delete_json(&app.key, &format!("{LIB}?command=deleteFile&path=abc&file=stay.png")).await;
    let (_, root) = app.get_json(&app.key, LIB).await;
    assert_eq!(root, json!({"files": [], "folders": [], "nextKey": null, "path": ""}));
    app.stop().await;
}

#[tokio::test]
async fn delete_rejects_bad_commands() {
    let app = TestApp::spawn().await;
    let cases = [
        ("", "Parameter 'command' is required."),
        ("command=rm", "Invalid command 'rm'. Allowed: deleteFile, deleteFolder."),
        ("command=deleteFile", "Parameter 'file' is required."),
        ("command=deleteFile&path=abc", "Parameter 'file' is required."),
        ("command=deleteFolder", "Parameter 'path' is required."),
        ("command=deleteFolder&path=a/../b", "Path contains illegal sequence \"..\" (directory traversal)."),
        ("command=deleteFile&path=a&file=/x.png", "Path contains illegal sequence \"//\"."),
    ];
    for (query, msg) in cases {
        let (status, body) = app.delete_json(&app.key, &format!("{LIB}?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body, json!({ "msg": msg }), "{query}");
    }
    // A delete is never refused by the extension list (it only guards new content), and
    // deleting what does not exist succeeds.
    let (status, body) = app.delete_json(&app.key, &format!("{LIB}?command=deleteFile&file=x.exe")).await;
    assert_eq!((status, body), (200, json!({"msg": "Deleted successfully"})));
    app.stop().await;
}

// ---- Authentication and tenancy -----------------------------------------------------------

#[tokio::test]
async fn requests_without_a_valid_key_are_401() {
    let app = TestApp::spawn().await;
    let res = app.client.get(app.url(LIB)).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"msg": "Missing API key: send it in the jvx_apikey header."})
    );
    let (status, body) = app.get_json("alk_wrong", LIB).await;
    assert_eq!((status, body), (401, json!({"msg": "Invalid API key."})));
    let res = app.upload("alk_wrong", 1, None, "x.png", png()).await;
    assert_eq!(res.status(), 401);
    app.stop().await;
}

/// Every endpoint with another account's key is 403; a viewer may read but not write.
#[tokio::test]
async fn other_accounts_and_viewers_are_kept_out() {
    let app = TestApp::spawn().await;
    app.account(2).await;
    let other = app.user(2, Role::Owner).await;
    let viewer = app.user(1, Role::Viewer).await;
    let queue = app.put(Some("t"), "x.png", png()).await;
    let forbidden = json!({"msg": "Access to account 1 is not allowed."});

    assert_eq!(app.get_json(&other, LIB).await, (403, forbidden.clone()));
    let res = app.upload(&other, 1, None, "y.png", png()).await;
    assert_eq!((res.status().as_u16(), res.json::<Value>().await.unwrap()), (403, forbidden.clone()));
    assert_eq!(app.get_json(&other, &format!("/v2/queues/{queue}/status")).await, (403, forbidden.clone()));
    assert_eq!(app.get_json(&other, &format!("/v2/queues/{queue}")).await, (403, forbidden.clone()));
    assert_eq!(
        app.delete_json(&other, &format!("{LIB}?command=deleteFile&path=t&file=x.png")).await,
        (403, forbidden.clone())
    );
    assert_eq!(app.delete_json(&other, &format!("{LIB}?command=deleteFolder&path=t")).await, (403, forbidden));

    let read_only = json!({"msg": "Your role in account 1 does not allow this operation."});
    assert_eq!(app.get_json(&viewer, LIB).await.0, 200);
    assert_eq!(app.get_json(&viewer, &format!("/v2/queues/{queue}/status")).await.0, 200);
    let res = app.upload(&viewer, 1, None, "y.png", png()).await;
    assert_eq!((res.status().as_u16(), res.json::<Value>().await.unwrap()), (403, read_only.clone()));
    assert_eq!(
        app.delete_json(&viewer, &format!("{LIB}?command=deleteFile&path=t&file=x.png")).await,
        (403, read_only.clone())
    );
    assert_eq!(app.delete_json(&viewer, &format!("{LIB}?command=deleteFolder&path=t")).await, (403, read_only));

    // Nothing changed: the file is still there and account 2 is empty.
    let (_, t) = app.get_json(&app.key, &format!("{LIB}?prefix=t")).await;
    assert_eq!(names(&t, "files"), ["x.png"]);
    let (_, two) = app.get_json(&other, "/v2/accounts/2/asset-library").await;
    assert!(names(&two, "files").is_empty());
    // An account that does not exist is as unreachable as another's.
    assert_eq!(app.get_json(&other, "/v2/accounts/99/asset-library").await.0, 403);
    app.stop().await;
}

/// "one key may reach several accounts": a platform admin reaches them all; an account that
/// does not exist is then a 404.
#[tokio::test]
async fn an_admin_key_reaches_every_account() {
    let app = TestApp::spawn().await;
    app.account(2).await;
    let admin = app.admin().await;
    let res = app.upload(&admin, 2, Some("adm"), "a.png", png()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get_json(&admin, LIB).await.0, 200);
    assert_eq!(app.get_json(&admin, "/v2/accounts/2/asset-library?prefix=adm").await.1["files"][0]["name"], "a.png");
    assert_eq!(
        app.get_json(&admin, "/v2/accounts/99/asset-library").await,
        (404, json!({"msg": "Account 99 not found."}))
    );
    app.stop().await;
}
