//! The Hivo API (SPEC 5.2, seed 003) over HTTP, as a Hivo client sees it: the JSON:API
//! envelope, authentication by user and key, every filter with its bounds and errors, paging
//! links, the asset and download routes, collections, users, and tenancy; on PostgreSQL + S3
//! too where configured.

mod common;

use assetlib_core::model::{AssetPatch, Role};
use assetlib_core::{AccountId, AssetId, CollectionId};
use common::TestApp;
use serde_json::{Value, json};

/// A Hivo caller: a user id and its key.
struct Hivo<'a> {
    app: &'a TestApp,
    user: String,
    key: String,
}

impl<'a> Hivo<'a> {
    async fn owner(app: &'a TestApp) -> Hivo<'a> {
        let who = app.lib().authenticate(&app.key).await.unwrap();
        Hivo { app, user: who.user.0, key: app.key.clone() }
    }

    async fn of(app: &'a TestApp, key: String) -> Hivo<'a> {
        let who = app.lib().authenticate(&key).await.unwrap();
        Hivo { app, user: who.user.0, key }
    }

    async fn get(&self, path: &str) -> (u16, Value, reqwest::header::HeaderMap) {
        let res = self
            .app
            .client
            .get(self.app.url(&format!("/api/rest/v1{path}")))
            .header("X-User-Id", &self.user)
            .header("X-Api-Key", &self.key)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)), headers)
    }

    async fn ok(&self, path: &str) -> Value {
        let (status, body, headers) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(headers["content-type"], "application/json; charset=utf-8");
        assert!(body["meta"]["timestamp"].is_i64(), "{body}");
        assert_eq!(body["meta"]["authentication"], "apiKey");
        let me = format!("{}/api/rest/v1/users/{}", self.app.url(""), self.user);
        assert_eq!(body["meta"]["links"]["me"].as_str(), Some(me.as_str()));
        assert!(body.get("errors").is_none(), "{body}");
        body
    }

    /// The ids of the assets a list answers, in order.
    async fn ids(&self, query: &str) -> Vec<String> {
        let body = self.ok(&format!("/assets{query}")).await;
        body["data"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_owned()).collect()
    }

    /// An error answer with this status and `source.parameter`.
    async fn error(&self, path: &str, status: u16, parameter: Option<&str>) {
        let (got, body, _) = self.get(path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(body.get("data").is_none(), "{body}");
        assert!(body["meta"]["timestamp"].is_i64(), "{body}");
        let e = &body["errors"][0];
        assert_eq!(e["status"], status.to_string(), "{body}");
        assert!(e["title"].is_string() && e["detail"].is_string(), "{body}");
        assert_eq!(e["source"]["parameter"].as_str(), parameter, "{path}: {body}");
    }
}

/// Three assets in account 1 with attributes, and the id of each by name.
async fn library(app: &TestApp) -> std::collections::HashMap<&'static str, String> {
    app.put(Some("brand/spring"), "Hero.png", common::real_png()).await;
    app.put(Some("brand/spring/social"), "story.png", common::png()).await;
    app.put(Some("brandx"), "other.png", common::png()).await;
    let owner = app.owner().await;
    let lib = app.lib();
    let id = |key: &'static str| async move { lib.find_asset(&app.owner().await, AccountId(1), key).await.unwrap().id };
    let hero = id("brand/spring/Hero.png").await;
    let story = id("brand/spring/social/story.png").await;
    let other = id("brandx/other.png").await;
    let col = lib.create_collection(&owner, AccountId(1), "Spring", "the campaign").await.unwrap();
    let patch = AssetPatch {
        tags: Some(vec!["Campaign".into(), "hero".into()]),
        skus: Some(vec!["SKU-1".into()]),
        metadata: Some([("Team".to_string(), "Red".to_string())].into()),
        collection_ids: Some(vec![col.id.clone()]),
        batch_id: Some(Some("batch-7".into())),
        approved: Some(true),
        favourite: Some((owner.user.clone(), true)),
        ..AssetPatch::default()
    };
    lib.update_asset(&owner, AccountId(1), &hero, patch).await.unwrap();
    let archive = AssetPatch { archived: Some(true), ..AssetPatch::default() };
    lib.update_asset(&owner, AccountId(1), &other, archive).await.unwrap();
    // Their renditions made, so that every answer shows them.
    app.settle_jobs().await;
    [("hero", hero.0), ("story", story.0), ("other", other.0), ("collection", col.id.0)].into()
}

#[tokio::test]
async fn authentication_needs_the_user_and_its_key() {
    let app = TestApp::spawn().await;
    let h = Hivo::owner(&app).await;
    h.ok("/users/me").await;
    let bad = [
        Hivo { app: &app, user: h.user.clone(), key: "not-a-key".into() },
        Hivo { app: &app, user: "usr_someone".into(), key: h.key.clone() },
        Hivo { app: &app, user: String::new(), key: h.key.clone() },
    ];
    for caller in &bad {
        caller.error("/assets", 401, None).await;
    }
    // Neither header: 401 in the same shape.
    let res = app.client.get(app.url("/api/rest/v1/assets")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["status"], "401");
    // Unknown routes under the prefix are JSON:API 404s.
    h.error("/nowhere", 404, None).await;
    h.error("/assets/x/y/z", 404, None).await;
}

#[tokio::test]
async fn users_are_the_caller_only() {
    let app = TestApp::spawn().await;
    let h = Hivo::owner(&app).await;
    let me = h.ok("/users/me").await;
    assert_eq!((me["data"]["type"].as_str(), me["data"]["id"].as_str()), (Some("users"), Some(h.user.as_str())));
    assert_eq!(me["data"]["attributes"]["name"], "owner");
    let same = h.ok(&format!("/users/{}", h.user)).await;
    assert_eq!(same["data"], me["data"]);
    h.error("/users/usr_other", 404, None).await;
}

#[tokio::test]
async fn every_filter_finds_what_it_names() {
    let app = TestApp::spawn().await;
    let ids = library(&app).await;
    let h = Hivo::owner(&app).await;
    let (hero, story, other) = (&ids["hero"], &ids["story"], &ids["other"]);
    // Newest first by default; archived hidden unless asked.
    assert_eq!(h.ids("").await, [story.as_str(), hero.as_str()]);
    assert_eq!(h.ids("?sort=createdAt").await, [hero.as_str(), story.as_str()]);
    assert_eq!(h.ids("?filter[archived]=true").await, [other.as_str()]);
    assert_eq!(h.ids("?filter[search]=her").await, [hero.as_str()], "a name prefix, any case");
    assert_eq!(h.ids("?filter[search]=CAMP").await, [hero.as_str()], "a tag prefix, any case");
    assert_eq!(h.ids(&format!("?filter[id]={hero},{other}")).await, [hero.as_str()], "archived still hidden");
    assert_eq!(h.ids(&format!("?filter[id]={hero}&filter[id]={story}")).await, [story.as_str(), hero.as_str()]);
    assert_eq!(h.ids("?filter[path]=brand/spring").await, [hero.as_str()]);
    assert_eq!(h.ids("?filter[pathPrefix]=brand/spring").await, [story.as_str(), hero.as_str()]);
    assert!(h.ids("?filter[pathPrefix]=bran").await.is_empty(), "a folder, not a string prefix");
    assert_eq!(h.ids("?filter[approved]=true").await, [hero.as_str()]);
    assert_eq!(h.ids("?filter[approved]=false").await, [story.as_str()]);
    assert_eq!(h.ids(&format!("?filter[favoriteBy]={}", h.user)).await, [hero.as_str()]);
    assert_eq!(h.ids(&format!("?filter[collectionId]={}", ids["collection"])).await, [hero.as_str()]);
    assert_eq!(h.ids("?filter[batchId]=batch-7").await, [hero.as_str()]);
    assert_eq!(h.ids("?filter[sku]=SKU-1").await, [hero.as_str()]);
    assert!(h.ids("?filter[sku]=sku-1").await.is_empty(), "a SKU is exact");
    assert_eq!(h.ids("?filter[metadata][Team]=red").await, [hero.as_str()], "the value ignoring case");
    assert!(h.ids("?filter[metadata][team]=red").await.is_empty(), "the key exactly");
    assert_eq!(h.ids("?filter[sensitive]=false").await, [story.as_str(), hero.as_str()]);
    assert_eq!(h.ids("?filter[licenseExpired]=false").await, [story.as_str(), hero.as_str()]);
    // The bounds are inclusive seconds: take them from the assets themselves, so that a second
    // turning between the uploads and this point changes nothing.
    let listed = h.ok("/assets").await;
    let created: Vec<i64> =
        listed["data"].as_array().unwrap().iter().map(|a| a["attributes"]["createdAt"].as_i64().unwrap()).collect();
    let (first, last) = (*created.iter().min().unwrap(), *created.iter().max().unwrap());
    assert_eq!(h.ids(&format!("?filter[createdMin]={}", first - 3600)).await.len(), 2);
    assert!(h.ids(&format!("?filter[createdMax]={}", first - 3600)).await.is_empty());
    assert_eq!(h.ids(&format!("?filter[createdMin]={first}&filter[createdMax]={last}")).await.len(), 2);
    assert!(h.ids(&format!("?filter[createdMin]={}", last + 1)).await.is_empty());
    // Combined.
    assert_eq!(h.ids("?filter[pathPrefix]=brand&filter[search]=st&filter[approved]=false").await, [story.as_str()]);
}

#[tokio::test]
async fn every_bound_and_malformed_value_is_a_400_naming_its_parameter() {
    let app = TestApp::spawn().await;
    let h = Hivo::owner(&app).await;
    let long = |n: usize| "a".repeat(n);
    let many_ids: Vec<String> = (0..513).map(|i| format!("id{i}")).collect();
    let cases = [
        ("?limit=0", "limit"),
        ("?limit=257", "limit"),
        ("?limit=x", "limit"),
        ("?skip=65537", "skip"),
        ("?skip=-1", "skip"),
        ("?sort=name", "sort"),
        ("?includeThumbnails=maybe", "includeThumbnails"),
        (&format!("?filter[search]={}", long(257)), "filter[search]"),
        (&format!("?filter[id]={}", many_ids.join(",")), "filter[id]"),
        (&format!("?filter[path]={}", long(513)), "filter[path]"),
        (&format!("?filter[pathPrefix]={}", long(513)), "filter[pathPrefix]"),
        ("?filter[approved]=yes", "filter[approved]"),
        (&format!("?filter[batchId]={}", long(257)), "filter[batchId]"),
        (&format!("?filter[sku]={}", long(129)), "filter[sku]"),
        ("?filter[createdMin]=yesterday", "filter[createdMin]"),
        ("?filter[createdMax]=1.5", "filter[createdMax]"),
        ("?filter[clientId]=abc", "filter[clientId]"),
        ("?filter[nope]=1", "filter[nope]"),
        ("?page=2", "page"),
    ];
    for (query, parameter) in cases {
        h.error(&format!("/assets{query}"), 400, Some(parameter)).await;
    }
    // At the bounds, accepted.
    for query in ["?limit=1", "?limit=256", "?skip=65536", &format!("?filter[search]={}", long(256))] {
        h.ok(&format!("/assets{query}")).await;
    }
}

#[tokio::test]
async fn owner_filters_and_client_ids_need_their_roles() {
    let app = TestApp::spawn().await;
    library(&app).await;
    let editor = Hivo::of(&app, app.user(1, Role::Editor).await).await;
    for filter in ["filter[sensitive]=true", "filter[archived]=false", "filter[licenseExpired]=true"] {
        editor.error(&format!("/assets?{filter}"), 403, None).await;
    }
    editor.ok("/assets?filter[approved]=true").await;
    // filter[clientId]: platform administrators only; for them it narrows to the account.
    let owner = Hivo::owner(&app).await;
    owner.error("/assets?filter[clientId]=1", 403, None).await;
    app.account(2).await;
    app.put(None, "x.png", common::png()).await;
    let admin = Hivo::of(&app, app.admin().await).await;
    assert_eq!(admin.ids("?filter[clientId]=2").await.len(), 0);
    assert_eq!(admin.ids("?filter[clientId]=1").await.len(), 3);
    assert_eq!(admin.ids("").await.len(), 3, "an admin reaches every account");
}

#[tokio::test]
async fn pages_link_to_each_other() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        app.put(Some("p"), &format!("f{i}.png"), common::png()).await;
    }
    let h = Hivo::owner(&app).await;
    let base = app.url("/api/rest/v1/assets");
    let first = h.ok("/assets?limit=2&filter[path]=p").await;
    let links = &first["links"];
    assert_eq!(links["self"], format!("{base}?limit=2&filter%5Bpath%5D=p"));
    assert_eq!(links["first"], links["self"]);
    assert_eq!(links["prev"], json!(null));
    assert_eq!(links["next"], format!("{base}?limit=2&filter%5Bpath%5D=p&skip=2"));
    let second = h.ok("/assets?skip=2&limit=2&filter[path]=p").await;
    assert_eq!(second["links"]["prev"], format!("{base}?limit=2&filter%5Bpath%5D=p"));
    assert_eq!(second["links"]["next"], format!("{base}?limit=2&filter%5Bpath%5D=p&skip=4"));
    let last = h.ok("/assets?skip=4&limit=2&filter[path]=p").await;
    assert_eq!((last["data"].as_array().unwrap().len(), &last["links"]["next"]), (1, &json!(null)));
    // The pages hold every asset once.
    let mut seen: Vec<Value> =
        [first, second, last].iter().flat_map(|p| p["data"].as_array().unwrap().clone()).collect();
    seen.dedup_by(|a, b| a["id"] == b["id"]);
    assert_eq!(seen.len(), 5);
    // gzip when asked.
    let res = app
        .client
        .get(app.url("/api/rest/v1/assets"))
        .header("X-User-Id", &h.user)
        .header("X-Api-Key", &h.key)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn one_asset_its_attributes_and_its_download() {
    let app = TestApp::spawn().await;
    let ids = library(&app).await;
    let h = Hivo::owner(&app).await;
    let body = h.ok(&format!("/assets/{}", ids["hero"])).await;
    let data = &body["data"];
    assert_eq!((data["type"].as_str(), data["id"].as_str()), (Some("assets"), Some(ids["hero"].as_str())));
    let self_link = format!("{}/api/rest/v1/assets/{}", app.url(""), ids["hero"]);
    assert_eq!(data["links"]["self"].as_str(), Some(self_link.as_str()));
    assert_eq!(body["links"]["self"], data["links"]["self"]);
    let a = &data["attributes"];
    assert_eq!(a["name"], "Hero.png");
    assert_eq!(a["path"], "brand/spring");
    assert_eq!(a["tags"], json!(["Campaign", "hero"]));
    assert_eq!(a["skus"], json!(["SKU-1"]));
    assert_eq!(a["metadata"], json!({ "Team": "Red" }));
    assert_eq!(a["collectionIds"], json!([ids["collection"]]));
    assert_eq!(a["collections"], json!([{ "id": ids["collection"], "name": "Spring" }]));
    assert_eq!(a["batchId"], "batch-7");
    assert!(a["approvedAt"].is_i64() && a["createdAt"].is_i64() && a["lastModified"].is_i64(), "{a}");
    assert!(a["createdAt"].as_i64().unwrap() < 10_000_000_000, "seconds, not milliseconds");
    assert_eq!(
        (&a["sensitiveAt"], &a["archivedAt"], &a["expires"], &a["licenseExpiresAt"]),
        (&json!(null), &json!(null), &json!(null), &json!(null))
    );
    assert_eq!(a["favs"], json!([h.user]));
    assert_eq!((a["clientId"].as_str(), a["createdBy"].as_str()), (Some("1"), Some(h.user.as_str())));
    assert_eq!(a["taskIds"], json!([]));
    // The single GET gives every image version's width and height; its renditions are
    // JPEGs no larger than the original.
    let v = &a["versions"];
    assert_eq!(
        v["original"],
        json!({ "size": common::real_png().len(), "type": "image/png", "extension": "png", "width": 8, "height": 4 })
    );
    for version in ["thumbnail", "web"] {
        assert_eq!(v[version]["type"], "image/jpeg", "{v}");
        assert_eq!(v[version]["extension"], "jpg");
        assert_eq!((v[version]["width"].as_u64(), v[version]["height"].as_u64()), (Some(8), Some(4)));
        assert!(v[version]["size"].as_u64().unwrap() > 0);
    }
    // A get counts a view (written within a second or so).
    let mut views = 0;
    for _ in 0..100 {
        views = h.ok(&format!("/assets?filter[id]={}", ids["hero"])).await["data"][0]["attributes"]["views"]
            .as_i64()
            .unwrap();
        if views >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(views, 1);

    // Download: 302 to a signed URL that serves the bytes, as an attachment by default.
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let download = |query: &str| {
        no_redirects
            .get(app.url(&format!("/api/rest/v1/assets/{}/download{query}", ids["hero"])))
            .header("X-User-Id", &h.user)
            .header("X-Api-Key", &h.key)
            .send()
    };
    for (query, disposition) in [
        ("", "attachment"),
        ("?attachment=1", "attachment"),
        ("?attachment=0", "inline"),
        ("?inline=1", "inline"),
        ("?inline=0", "attachment"),
        ("?attachment=1&inline=1", "attachment"),
        ("?version=original&attachment=0&inline=0", "inline"),
    ] {
        let res = download(query).await.unwrap();
        assert_eq!(res.status(), 302, "{query}");
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        if app.backend.s3.is_some() {
            assert!(location.contains("X-Amz-Signature="), "an S3 presigned URL: {location}");
        } else {
            assert!(location.starts_with(&app.url("/signed/")), "the server's own link: {location}");
        }
        let file = app.client.get(&location).send().await.unwrap();
        assert_eq!(file.status(), 200, "{query}: {location}");
        let got = file.headers()["content-disposition"].to_str().unwrap().to_owned();
        assert!(got.starts_with(disposition), "{query}: {got}");
        assert_eq!(file.bytes().await.unwrap(), common::real_png());
    }
    let res = download("?version=thumbnail").await.unwrap();
    assert_eq!(res.status(), 302, "the asset has a thumbnail");
    let res = download("?version=poster").await.unwrap();
    assert_eq!(res.status(), 404);
    let res = download("?attachment=maybe").await.unwrap();
    assert_eq!(res.status(), 400);
    h.error(&format!("/assets/{}/download?attachment=2", ids["hero"]), 400, Some("attachment")).await;
}

#[tokio::test]
async fn another_accounts_assets_are_never_seen() {
    let app = TestApp::spawn().await;
    let ids = library(&app).await;
    app.account(2).await;
    let theirs = Hivo::of(&app, app.user(2, Role::Owner).await).await;
    assert!(theirs.ids("").await.is_empty());
    assert!(theirs.ids(&format!("?filter[id]={}", ids["hero"])).await.is_empty());
    theirs.error(&format!("/assets/{}", ids["hero"]), 404, None).await;
    theirs.error(&format!("/assets/{}/download", ids["hero"]), 404, None).await;
    theirs.error(&format!("/collections/{}", ids["collection"]), 404, None).await;
    assert!(theirs.ok("/collections").await["data"].as_array().unwrap().is_empty());
    theirs.error("/assets?filter[clientId]=1", 403, None).await;
    // A key restricted to one account sees that account only.
    let lib = app.lib();
    assert!(
        lib.asset_by_id(&lib.authenticate(&theirs.key).await.unwrap(), &AssetId(ids["hero"].clone())).await.is_err()
    );
}

#[tokio::test]
async fn collections_list_and_get() {
    let app = TestApp::spawn().await;
    let ids = library(&app).await;
    let owner = app.owner().await;
    app.lib().create_collection(&owner, AccountId(1), "Summer", "").await.unwrap();
    let h = Hivo::owner(&app).await;
    let list = h.ok("/collections").await;
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(list["links"]["next"], json!(null));
    let one = h.ok(&format!("/collections/{}", ids["collection"])).await;
    let c = &one["data"];
    assert_eq!((c["type"].as_str(), c["id"].as_str()), (Some("collections"), Some(ids["collection"].as_str())));
    let a = &c["attributes"];
    assert_eq!(
        (a["name"].as_str(), a["description"].as_str(), a["clientId"].as_str()),
        (Some("Spring"), Some("the campaign"), Some("1"))
    );
    assert!(a["createdAt"].is_i64() && a["lastModified"].is_i64());
    assert_eq!(a["createdBy"].as_str(), Some(h.user.as_str()));
    let page = h.ok("/collections?limit=1").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert!(page["links"]["next"].is_string());
    h.error("/collections?limit=0", 400, Some("limit")).await;
    h.error("/collections?skip=70000", 400, Some("skip")).await;
    h.error(&format!("/collections/{}", CollectionId("col_none".into())), 404, None).await;
}

#[tokio::test]
async fn answer_shapes_are_pinned() {
    let app = TestApp::spawn().await;
    let ids = library(&app).await;
    let h = Hivo::owner(&app).await;
    let mut settings = insta::Settings::clone_current();
    // Values that change from run to run are redacted; a null stays null.
    let keep_null = |label: &'static str| {
        insta::dynamic_redaction(move |value, _| if value.is_nil() { value } else { label.into() })
    };
    for field in [".meta.timestamp", ".**.createdAt", ".**.lastModified", ".**.approvedAt"] {
        settings.add_redaction(field, keep_null("[time]"));
    }
    for field in [
        ".**.id",
        ".**.self",
        ".**.first",
        ".**.prev",
        ".**.next",
        ".**.me",
        ".**.createdBy",
        ".**.favs[]",
        ".**.collectionIds[]",
    ] {
        settings.add_redaction(field, keep_null("[id]"));
    }
    let list = h.ok("/assets?limit=1").await;
    let one = h.ok(&format!("/assets/{}", ids["hero"])).await;
    let collection = h.ok(&format!("/collections/{}", ids["collection"])).await;
    let user = h.ok("/users/me").await;
    let (_, error, _) = h.get("/assets?limit=0").await;
    settings.bind(|| {
        insta::assert_json_snapshot!("hivo_assets", list);
        insta::assert_json_snapshot!("hivo_asset", one);
        insta::assert_json_snapshot!("hivo_collection", collection);
        insta::assert_json_snapshot!("hivo_user", user);
        insta::assert_json_snapshot!("hivo_error", error);
    });
}
