//! The native API (SPEC 5.4) over HTTP, as a client sees it: Bearer auth, problem+json errors
//! that name their parameter, search, one asset (GET with its ETag, PATCH as a merge patch),
//! signed links and collections; on PostgreSQL + S3 too where configured.

mod common;

use assetlib_core::model::Role;
use common::TestApp;
use common::native::{Api, problem};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn credentials_and_unknown_routes_answer_as_problems() {
    let app = TestApp::spawn().await;
    let api = Api { app: &app };
    let (status, body, headers) = api.call(None, Method::GET, "/api/v1/me", None).await;
    assert_eq!(headers["content-type"], "application/problem+json");
    problem(&(status, body), 401, "unauthenticated", None);
    let got = api.call(Some("not-a-key"), Method::GET, "/api/v1/me", None).await;
    problem(&(got.0, got.1), 401, "unauthenticated", None);
    let res = app.client.get(app.url("/api/v1/me")).header("authorization", format!("Basic {}", app.key)).send().await;
    assert_eq!(res.unwrap().status(), 401, "only Bearer");

    let (status, me) = api.get(&app.key, "/api/v1/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["accounts"], json!([{ "id": 1, "name": "Default", "role": "owner" }]), "{me}");
    assert!(me["user"]["id"].is_string() && me["user"]["admin"] == false, "{me}");

    problem(&api.get(&app.key, "/api/v1/nowhere").await, 404, "not_found", None);
    problem(&api.get(&app.key, "/api/v1/accounts/2/assets").await, 404, "not_found", None);
    problem(&api.get(&app.key, "/api/v1/accounts/abc/assets").await, 404, "not_found", None);
}

#[tokio::test]
async fn search_get_and_patch_an_asset() {
    let app = TestApp::spawn().await;
    let api = Api { app: &app };
    let key = app.key.clone();
    app.put(Some("brand"), "hero.png", common::png()).await;
    app.put(Some("brand/old"), "logo.png", common::png()).await;
    let (status, page) = api.get(&key, "/api/v1/accounts/1/assets?pathPrefix=brand&sort=name").await;
    assert_eq!(status, 200, "{page}");
    let names: Vec<&str> = page["items"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["hero.png", "logo.png"]);
    assert_eq!(page["nextCursor"], Value::Null);
    let hero = page["items"][0].clone();
    let id = hero["id"].as_str().unwrap().to_owned();
    for field in
        ["accountId", "key", "path", "size", "contentType", "hash", "url", "createdAt", "lastModified", "versions"]
    {
        assert!(!hero[field].is_null(), "{field}: {hero}");
    }
    assert_eq!(
        (hero["key"].as_str(), hero["tags"].clone(), hero["favorite"].clone()),
        (Some("brand/hero.png"), json!([]), json!(false))
    );
    assert!(hero["url"].as_str().unwrap().ends_with("/files/1/brand/hero.png"));

    // PATCH: what it names changes; metadata merges; the ETag follows.
    let path = format!("/api/v1/accounts/1/assets/{id}");
    let (_, _, headers) = api.call(Some(&key), Method::GET, &path, None).await;
    let etag = headers["etag"].clone();
    let patch = json!({ "tags": ["Hero", "spring"], "metadata": { "team": "red", "year": "2026" }, "approved": true,
                        "licenseExpiresAt": "2030-01-01T00:00:00Z", "favorite": true });
    let (status, changed) = api.send(&key, Method::PATCH, &path, patch).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!((changed["tags"].clone(), changed["favorite"].clone()), (json!(["Hero", "spring"]), json!(true)));
    assert_eq!(changed["licenseExpiresAt"], "2030-01-01T00:00:00.000Z");
    assert!(changed["approvedAt"].is_string());
    let (status, changed) =
        api.send(&key, Method::PATCH, &path, json!({ "metadata": { "year": null, "kind": "hero" } })).await;
    assert_eq!(status, 200);
    assert_eq!(changed["metadata"], json!({ "kind": "hero", "team": "red" }));
    let (_, _, headers) = api.call(Some(&key), Method::GET, &path, None).await;
    assert_ne!(headers["etag"], etag, "a PATCH changes the ETag");

    // The search finds it by what was set.
    for query in ["q=SPR", "tag=hero", "meta.team=RED", "approved=true", "contentType=image/*&tag=spring"] {
        let (status, page) = api.get(&key, &format!("/api/v1/accounts/1/assets?{query}")).await;
        assert_eq!((status, page["items"].as_array().map(Vec::len)), (200, Some(1)), "{query}: {page}");
    }
    let (_, page) = api.get(&key, "/api/v1/accounts/1/assets?favoriteBy=me").await;
    assert_eq!(page["items"][0]["id"], id.as_str());
    // Pages follow each other by cursor.
    let (_, first) = api.get(&key, "/api/v1/accounts/1/assets?limit=1&sort=name").await;
    let cursor = first["nextCursor"].as_str().expect("a next page").to_owned();
    let (_, second) = api.get(&key, &format!("/api/v1/accounts/1/assets?limit=1&sort=name&cursor={cursor}")).await;
    assert_eq!(second["items"][0]["name"], "logo.png");
    assert_eq!(second["nextCursor"], Value::Null);

    // Bad input names its parameter and changes nothing.
    let bad = [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("sort=size,name", "sort"),
        ("approved=yes", "approved"),
        ("createdMin=yesterday", "createdMin"),
        ("contentType=image", "contentType"),
        ("cursor=garbage", "cursor"),
        ("bogus=1", "bogus"),
        ("meta.=x", "meta."),
    ];
    for (query, param) in bad {
        problem(
            &api.get(&key, &format!("/api/v1/accounts/1/assets?{query}")).await,
            400,
            "invalid_parameter",
            Some(param),
        );
    }
    let cursor_of_another_sort = api.get(&key, &format!("/api/v1/accounts/1/assets?limit=1&cursor={cursor}")).await;
    problem(&cursor_of_another_sort, 400, "invalid_parameter", Some("cursor"));
    problem(&api.send(&key, Method::PATCH, &path, json!({ "tagz": ["x"] })).await, 400, "invalid_body", Some("tagz"));
    problem(
        &api.send(&key, Method::PATCH, &path, json!({ "expiresAt": "soon" })).await,
        400,
        "invalid_parameter",
        Some("expiresAt"),
    );
    problem(
        &api.send(&key, Method::PATCH, &path, json!({ "tags": [""] })).await,
        400,
        "invalid_parameter",
        Some("tags"),
    );
    problem(
        &api.send(&key, Method::PATCH, &path, json!({ "collectionIds": ["col_none"] })).await,
        400,
        "invalid_parameter",
        Some("collectionIds"),
    );
    let res = app.client.patch(app.url(&path)).bearer_auth(&key).body("{not json").send().await.unwrap();
    assert_eq!(res.status(), 400);
    let (_, after) = api.get(&key, &path).await;
    assert_eq!(after["tags"], json!(["Hero", "spring"]), "refused patches changed nothing");

    // Roles and tenancy: a viewer favourites but does not tag; other accounts see nothing.
    let viewer = app.user(1, Role::Viewer).await;
    let (status, _) = api.send(&viewer, Method::PATCH, &path, json!({ "favorite": true })).await;
    assert_eq!(status, 200);
    problem(&api.send(&viewer, Method::PATCH, &path, json!({ "tags": ["mine"] })).await, 403, "forbidden", None);
    problem(&api.get(&viewer, "/api/v1/accounts/1/assets?sensitive=false").await, 403, "forbidden", None);
    app.account(2).await;
    let other = app.user(2, Role::Owner).await;
    problem(&api.get(&other, &path).await, 404, "not_found", None);
    problem(&api.get(&other, &format!("/api/v1/accounts/2/assets/{id}")).await, 404, "not_found", None);
    let (_, theirs) = api.get(&other, &format!("/api/v1/accounts/2/assets?id={id}")).await;
    assert_eq!(theirs["items"], json!([]));
    problem(&api.get(&key, "/api/v1/accounts/1/assets/nope").await, 404, "not_found", None);
}

#[tokio::test]
async fn links_and_collections() {
    let app = TestApp::spawn().await;
    let api = Api { app: &app };
    let key = app.key.clone();
    let bytes = common::png();
    app.put(None, "a.png", bytes.clone()).await;
    let (_, page) = api.get(&key, "/api/v1/accounts/1/assets").await;
    let id = page["items"][0]["id"].as_str().unwrap().to_owned();
    let links = format!("/api/v1/accounts/1/assets/{id}/links");

    let (status, link) =
        api.send(&key, Method::POST, &links, json!({ "expiresIn": 60, "disposition": "attachment" })).await;
    assert_eq!(status, 201, "{link}");
    assert!(link["expiresAt"].is_string());
    let res = app.client.get(link["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert_eq!(&res.bytes().await.unwrap()[..], &bytes[..]);
    problem(
        &api.send(&key, Method::POST, &links, json!({ "expiresIn": 0 })).await,
        400,
        "invalid_parameter",
        Some("expiresIn"),
    );
    problem(
        &api.send(&key, Method::POST, &links, json!({ "disposition": "save" })).await,
        400,
        "invalid_parameter",
        Some("disposition"),
    );
    problem(
        &api.send(&key, Method::POST, &links, json!({ "version": "web" })).await,
        404,
        "not_found",
        Some("version"),
    );
    problem(&api.send(&key, Method::POST, &links, json!({ "ttl": 5 })).await, 400, "invalid_body", Some("ttl"));

    let cols = "/api/v1/accounts/1/collections";
    let (status, created) =
        api.send(&key, Method::POST, cols, json!({ "name": "Spring", "description": "campaign" })).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!((created["name"].as_str(), created["assetCount"].as_u64()), (Some("Spring"), Some(0)));
    let cid = created["id"].as_str().unwrap().to_owned();
    let (status, _) = api
        .send(&key, Method::PATCH, &format!("/api/v1/accounts/1/assets/{id}"), json!({ "collectionIds": [cid] }))
        .await;
    assert_eq!(status, 200);
    let (status, one) = api.get(&key, &format!("{cols}/{cid}")).await;
    assert_eq!((status, one["assetCount"].as_u64()), (200, Some(1)));
    let (_, renamed) = api.send(&key, Method::PATCH, &format!("{cols}/{cid}"), json!({ "name": "Summer" })).await;
    assert_eq!((renamed["name"].as_str(), renamed["description"].as_str()), (Some("Summer"), Some("campaign")));
    api.send(&key, Method::POST, cols, json!({ "name": "Second" })).await;
    let (_, first) = api.get(&key, &format!("{cols}?limit=1")).await;
    let next = first["nextCursor"].as_str().expect("another page").to_owned();
    let (_, second) = api.get(&key, &format!("{cols}?limit=1&cursor={next}")).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_ne!(second["items"][0]["id"], first["items"][0]["id"]);
    problem(&api.send(&key, Method::POST, cols, json!({ "name": "" })).await, 400, "invalid_parameter", Some("name"));
    problem(
        &api.send(&key, Method::POST, cols, json!({ "description": "no name" })).await,
        400,
        "invalid_body",
        Some("name"),
    );
    let viewer = app.user(1, Role::Viewer).await;
    problem(&api.send(&viewer, Method::POST, cols, json!({ "name": "Mine" })).await, 403, "forbidden", None);
    app.account(2).await;
    let other = app.user(2, Role::Owner).await;
    problem(&api.get(&other, &format!("{cols}/{cid}")).await, 404, "not_found", None);
    problem(&api.get(&other, &format!("/api/v1/accounts/2/collections/{cid}")).await, 404, "not_found", None);

    let (status, _, _) = api.call(Some(&key), Method::DELETE, &format!("{cols}/{cid}"), None).await;
    assert_eq!(status, 204);
    let (_, asset) = api.get(&key, &format!("/api/v1/accounts/1/assets/{id}")).await;
    assert_eq!(asset["collectionIds"], json!([]), "the asset left the deleted collection");
    problem(&api.get(&key, &format!("{cols}/{cid}")).await, 404, "not_found", None);
}

#[tokio::test]
async fn huge_bodies_are_refused_as_problems_and_change_nothing() {
    let app = TestApp::spawn().await;
    let api = Api { app: &app };
    let huge = json!({ "name": "x".repeat(2 << 20) });
    let got = api.send(&app.key, Method::POST, "/api/v1/accounts/1/collections", huge).await;
    problem(&got, 413, "too_large", None);
    // Declared too large: refused before a byte of it is read.
    let res = app
        .client
        .post(app.url("/api/v1/accounts/1/collections"))
        .bearer_auth(&app.key)
        .header("content-length", (3u64 << 20).to_string())
        .body(vec![b' '; 16])
        .send()
        .await;
    if let Ok(res) = res {
        assert_eq!(res.status(), 413);
    }
    let (_, list) = api.get(&app.key, "/api/v1/accounts/1/collections").await;
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = TestApp::spawn().await;
    // Served without credentials.
    let res = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", doc["openapi"]);
    let paths = doc["paths"].as_object().unwrap();
    // Every route of SPEC 5.4's table is documented, with its methods.
    let table = [
        ("/api/v1/me", "get"),
        ("/api/v1/accounts/{a}/assets", "post"),
        ("/api/v1/accounts/{a}/assets", "get"),
        ("/api/v1/accounts/{a}/assets/{id}", "get"),
        ("/api/v1/accounts/{a}/assets/{id}", "patch"),
        ("/api/v1/accounts/{a}/assets/{id}", "delete"),
        ("/api/v1/accounts/{a}/assets/{id}/content", "get"),
        ("/api/v1/accounts/{a}/assets/{id}/copy", "post"),
        ("/api/v1/accounts/{a}/assets/{id}/links", "post"),
        ("/api/v1/accounts/{a}/assets/batch-delete", "post"),
        ("/api/v1/accounts/{a}/tree", "get"),
        ("/api/v1/accounts/{a}/folders", "post"),
        ("/api/v1/accounts/{a}/folders", "delete"),
        ("/api/v1/accounts/{a}/collections", "get"),
        ("/api/v1/accounts/{a}/collections", "post"),
        ("/api/v1/accounts/{a}/collections/{id}", "get"),
        ("/api/v1/accounts/{a}/collections/{id}", "patch"),
        ("/api/v1/accounts/{a}/collections/{id}", "delete"),
        ("/api/v1/accounts/{a}/uploads/{id}", "get"),
        ("/api/v1/accounts/{a}/keys", "get"),
        ("/api/v1/accounts/{a}/keys", "post"),
        ("/api/v1/accounts/{a}/keys/{id}", "delete"),
        // The web UI's session (SPEC 8).
        ("/api/v1/session", "post"),
        ("/api/v1/session", "get"),
        ("/api/v1/session", "delete"),
    ];
    for (path, method) in table {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} is not documented");
    }
    // And every documented operation is served: without credentials it is 401 (credentials are
    // checked first), never the unknown-route 404 or a 405. Signing in takes a key in its body
    // (none: 400), and signing out without a session has nothing to end (204).
    let mut operations = 0;
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let url = path.replace("{a}", "1").replace("{id}", "x");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = app.client.request(method.clone(), app.url(&url)).send().await.unwrap();
            let (status, code) = match (path.as_str(), method.as_str()) {
                ("/api/v1/session", "POST") => (400, Some("invalid_body")),
                ("/api/v1/session", "DELETE") => (204, None),
                _ => (401, Some("unauthenticated")),
            };
            assert_eq!(res.status(), status, "{method} {path}");
            if let Some(code) = code {
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["code"], code, "{method} {path}: {body}");
            }
            operations += 1;
        }
        // Each operation answers a problem document on error, and names its responses.
        for op in item.as_object().unwrap().values() {
            assert!(op["responses"]["4XX"].is_object(), "{path}: {op}");
        }
    }
    assert_eq!(operations, table.len(), "no operation is documented beyond the table");
    // The schemas the answers use are in the document.
    for schema in ["Asset", "AssetPage", "Problem", "Collection", "Key", "Upload", "Tree", "Link", "Me", "Session"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
    // Browsable, with everything it needs served by the server itself.
    let res = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("swagger"), "{page}");
    assert!(!page.contains("https://"), "no third-party origin: {page}");
    for script in ["/api/docs/swagger-ui-bundle.js", "/api/docs/swagger-initializer.js", "/api/docs/swagger-ui.css"] {
        let res = app.client.get(app.url(script)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{script}");
        let text = res.text().await.unwrap();
        assert!(text.len() > 100, "{script}");
        if script.ends_with("initializer.js") {
            assert!(text.contains("/api/v1/openapi.json"), "{text}");
        }
    }
}
