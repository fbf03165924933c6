//! Rate limits (SPEC 5.6): a token bucket per API key over the authenticated routes of every
//! dialect, answered 429 with `Retry-After` in each dialect's own error shape; public files and
//! signed links are never limited; off by default (the other API tests run without it).

mod common;

use assetlib_core::model::Role;
use common::TestApp;
use reqwest::RequestBuilder;
use serde_json::Value;

/// Sends `make()` until it is refused (at most `tries`); returns how many passed and the
/// refusal's status, `Retry-After` and body.
async fn until_refused(make: impl Fn() -> RequestBuilder, tries: usize) -> (usize, u16, Option<u64>, Value) {
    for passed in 0..tries {
        let res = make().send().await.unwrap();
        if res.status() == 429 {
            let retry = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
            let body: Value = res.json().await.unwrap();
            return (passed, 429, retry, body);
        }
        assert!(res.status().is_success(), "{}", res.status());
    }
    (tries, 200, None, Value::Null)
}

#[tokio::test]
async fn every_dialect_answers_429_in_its_own_shape_past_the_burst() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_per_sec = 1;
        c.rate_limit_burst = 3;
    })
    .await;
    let key = || async { app.user(1, Role::Owner).await };
    // Each dialect with a key of its own: buckets are per key.
    let jivox = key().await;
    let (passed, status, retry, body) =
        until_refused(|| app.client.get(app.url("/v2/accounts/1/asset-library")).header("jvx_apikey", &jivox), 10)
            .await;
    assert_eq!((passed, status), (3, 429), "the burst, then refused");
    assert!(retry.is_some_and(|s| s >= 1), "Retry-After in whole seconds: {retry:?}");
    assert!(body["msg"].as_str().is_some_and(|m| m.contains("Too many requests")), "{body}");

    let clinch = key().await;
    let (passed, status, retry, body) =
        until_refused(|| app.client.get(app.url("/1/Assets/AssetList")).header("X-ApiKey", &clinch), 10).await;
    assert_eq!((passed, status), (3, 429));
    assert!(retry.is_some());
    assert!(body["error"].is_string(), "{body}");

    let native = key().await;
    let (passed, status, retry, body) =
        until_refused(|| app.client.get(app.url("/api/v1/me")).bearer_auth(&native), 10).await;
    assert_eq!((passed, status, body["code"].as_str()), (3, 429, Some("rate_limited")), "{body}");
    assert!(retry.is_some());

    let hivo = key().await;
    let user = app.lib().authenticate(&hivo).await.unwrap().user.0;
    // authenticate() above took one token of this key.
    let (passed, status, retry, body) = until_refused(
        || app.client.get(app.url("/api/rest/v1/users/me")).header("X-User-Id", &user).header("X-Api-Key", &hivo),
        10,
    )
    .await;
    assert_eq!((passed, status), (2, 429));
    assert!(retry.is_some());
    assert_eq!(body["errors"][0]["status"], "429", "{body}");

    // A refused key does not hold back another.
    let other = key().await;
    assert_eq!(app.client.get(app.url("/api/v1/me")).bearer_auth(&other).send().await.unwrap().status(), 200);
    // And after Retry-After, the key works again.
    tokio::time::sleep(std::time::Duration::from_secs(retry.unwrap_or(1))).await;
    assert_eq!(app.client.get(app.url("/api/v1/me")).bearer_auth(&native).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn public_files_and_signed_links_are_never_limited() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_per_sec = 1;
        c.rate_limit_burst = 2;
    })
    .await;
    app.put(None, "open.png", common::png()).await; // the owner key's first token
    let owner = app.owner().await; // and its second: the key is spent
    let spent = app.client.get(app.url("/api/v1/me")).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!(spent.status(), 429);
    let (passed, status, _, _) = until_refused(|| app.client.get(app.url("/files/1/open.png")), 20).await;
    assert_eq!((passed, status), (20, 200));
    let asset = app.lib().find_asset(&owner, assetlib_core::AccountId(1), "open.png").await.unwrap();
    let link = app
        .lib()
        .signed_link(
            &owner,
            assetlib_core::AccountId(1),
            &asset.id,
            "original",
            None,
            assetlib_core::signing::Disposition::Inline,
        )
        .await
        .unwrap();
    let url = match link.target {
        assetlib_core::library::links::LinkTarget::Server(token) => app.url(&format!("/signed/{token}")),
        assetlib_core::library::links::LinkTarget::Store(url) => url,
    };
    let (passed, status, _, _) = until_refused(|| app.client.get(&url), 20).await;
    assert_eq!((passed, status), (20, 200));
}
