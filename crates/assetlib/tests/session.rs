//! Web UI sessions (SPEC 8) over HTTP: sign in with a key for an HttpOnly, SameSite=Strict
//! cookie that every `/api/v1` route accepts like the key; state changes by cookie need the
//! session's CSRF token or a same-origin `Origin`; signing out and revoking the key end it.

mod common;

use assetlib_core::model::Role;
use common::TestApp;
use common::native::{Api, problem};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// A request with the session cookie `cookie` (if any) and these extra headers.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value, HeaderMap) {
    let cookie = cookie.map(|c| format!("assetlib_session={c}"));
    let mut all: Vec<(&str, &str)> = cookie.iter().map(|c| ("cookie", c.as_str())).collect();
    all.extend_from_slice(headers);
    Api { app }.request(method, path, &all, body).await
}

/// `POST .../collections {name}` by the session `cookie` with these headers.
async fn create_collection(app: &TestApp, cookie: &str, headers: &[(&str, &str)], name: &str) -> (u16, Value) {
    let (status, body, _) =
        call(app, Method::POST, "/api/v1/accounts/1/collections", Some(cookie), headers, Some(json!({ "name": name })))
            .await;
    (status, body)
}

/// Signs in with `key`: the cookie's secret, the answer, and its `Set-Cookie`.
async fn sign_in(app: &TestApp, key: &str) -> (String, Value, String) {
    let (status, body, headers) =
        call(app, Method::POST, "/api/v1/session", None, &[], Some(json!({ "key": key }))).await;
    assert_eq!(status, 201, "{body}");
    let set = headers["set-cookie"].to_str().unwrap().to_owned();
    let secret = set.strip_prefix("assetlib_session=").and_then(|s| s.split(';').next()).unwrap().to_owned();
    (secret, body, set)
}

fn csrf(body: &Value) -> String {
    body["csrfToken"].as_str().unwrap().to_owned()
}

async fn collection_names(app: &TestApp) -> Vec<String> {
    let (_, page) = Api { app }.get(&app.key, "/api/v1/accounts/1/collections").await;
    page["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_session_acts_as_its_key_and_state_changes_need_its_csrf_token() {
    let app = TestApp::spawn().await;
    // A wrong key: 401, no cookie.
    let (status, body, headers) =
        call(&app, Method::POST, "/api/v1/session", None, &[], Some(json!({ "key": "not-a-key" }))).await;
    problem(&(status, body.clone()), 401, "unauthenticated", None);
    assert_eq!(body["detail"], "Invalid API key.");
    assert!(!headers.contains_key("set-cookie"));
    for bad in [json!({}), json!({ "key": app.key, "extra": 1 }), json!({ "key": 7 }), json!([1])] {
        let got = call(&app, Method::POST, "/api/v1/session", None, &[], Some(bad.clone())).await;
        assert_eq!(got.0, 400, "{bad}: {}", got.1);
        assert!(!got.2.contains_key("set-cookie"));
    }
    let empty = call(&app, Method::POST, "/api/v1/session", None, &[], Some(json!({ "key": "" }))).await;
    problem(&(empty.0, empty.1), 401, "unauthenticated", None);
    let huge =
        call(&app, Method::POST, "/api/v1/session", None, &[], Some(json!({ "key": "k".repeat(2 << 20) }))).await;
    problem(&(huge.0, huge.1), 413, "too_large", None);
    let long = call(&app, Method::POST, "/api/v1/session", None, &[], Some(json!({ "key": "k".repeat(300) }))).await;
    problem(&(long.0, long.1), 401, "unauthenticated", None);

    // The right key: 201, the cookie, who it is, and a CSRF token; never the key.
    let (secret, body, set) = sign_in(&app, &app.key).await;
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP here: {set}");
    assert!(secret.len() >= 43 && !set.contains(&app.key), "{set}");
    assert!(!body.to_string().contains(&app.key), "{body}");
    let (_, me) = Api { app: &app }.get(&app.key, "/api/v1/me").await;
    assert_eq!((&body["user"], &body["accounts"]), (&me["user"], &me["accounts"]), "{body}");
    assert!(body["expiresAt"].as_str().is_some_and(|t| t.ends_with('Z')), "{body}");
    let token = csrf(&body);

    // Every route takes the cookie as it takes the key.
    let (status, by_cookie, _) = call(&app, Method::GET, "/api/v1/me", Some(&secret), &[], None).await;
    assert_eq!((status, &by_cookie), (200, &me));
    let (status, again, _) = call(&app, Method::GET, "/api/v1/session", Some(&secret), &[], None).await;
    assert_eq!((status, csrf(&again)), (200, token.clone()), "{again}");
    let (status, _, _) = call(&app, Method::GET, "/api/v1/accounts/1/assets", Some(&secret), &[], None).await;
    assert_eq!(status, 200);

    // A state change by cookie without the token, with a wrong one, or from another origin:
    // 403 and nothing happens.
    let host = app.url("").trim_start_matches("http://").trim_end_matches('/').to_owned();
    let other_origin = "http://evil.example";
    for headers in [
        vec![],
        vec![("x-csrf-token", "AAAA")],
        vec![("x-csrf-token", "")],
        vec![("origin", other_origin)],
        vec![("origin", "null")],
        vec![("origin", other_origin), ("x-csrf-token", "not-it")],
    ] {
        let got = create_collection(&app, &secret, &headers, "refused").await;
        problem(&got, 403, "forbidden", None);
        assert_eq!(got.1["type"], "urn:assetlib:problem:csrf_refused", "{headers:?}");
    }
    // Another session's token is not this one's.
    let (other_secret, other_body, _) = sign_in(&app, &app.key).await;
    assert_ne!(other_secret, secret);
    let got = create_collection(&app, &secret, &[("x-csrf-token", &csrf(&other_body))], "refused").await;
    assert_eq!(got.0, 403, "{}", got.1);
    assert!(collection_names(&app).await.is_empty(), "a refused request changed nothing");
    // With the token, or from the server's own origin: done.
    let got = create_collection(&app, &secret, &[("x-csrf-token", &token)], "by token").await;
    assert_eq!(got.0, 201, "{}", got.1);
    let origin = format!("http://{host}");
    let got = create_collection(&app, &secret, &[("origin", &origin)], "same origin").await;
    assert_eq!(got.0, 201, "{}", got.1);
    let mut names = collection_names(&app).await;
    names.sort();
    assert_eq!(names, ["by token", "same origin"]);

    // Signing out needs the token too, then the cookie is refused everywhere.
    let got = call(&app, Method::DELETE, "/api/v1/session", Some(&secret), &[], None).await;
    assert_eq!(got.0, 403, "{}", got.1);
    let got = call(&app, Method::DELETE, "/api/v1/session", Some(&secret), &[("x-csrf-token", &token)], None).await;
    assert_eq!(got.0, 204, "{}", got.1);
    let cleared = got.2["set-cookie"].to_str().unwrap();
    assert!(cleared.starts_with("assetlib_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
    for path in ["/api/v1/me", "/api/v1/session", "/api/v1/accounts/1/assets"] {
        let got = call(&app, Method::GET, path, Some(&secret), &[], None).await;
        problem(&(got.0, got.1), 401, "unauthenticated", None);
    }
    // The other session goes on.
    assert_eq!(call(&app, Method::GET, "/api/v1/me", Some(&other_secret), &[], None).await.0, 200);
}

#[tokio::test]
async fn a_session_is_refused_when_forged_or_when_its_key_is_revoked() {
    let app = TestApp::spawn().await;
    for forged in ["", "x", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &"A".repeat(4000), "a=b; c"] {
        let got = call(&app, Method::GET, "/api/v1/me", Some(forged), &[], None).await;
        problem(&(got.0, got.1), 401, "unauthenticated", None);
    }
    // A key made for the UI, signed in, then revoked by the owner: its session ends with it.
    let res = app
        .client
        .post(app.url("/api/v1/accounts/1/keys"))
        .bearer_auth(&app.key)
        .json(&json!({ "name": "browser" }))
        .send()
        .await
        .unwrap();
    let (status, made) = (res.status().as_u16(), res.json::<Value>().await.unwrap());
    assert_eq!(status, 201, "{made}");
    let (secret, _, _) = sign_in(&app, made["key"].as_str().unwrap()).await;
    assert_eq!(call(&app, Method::GET, "/api/v1/me", Some(&secret), &[], None).await.0, 200);
    let id = made["id"].as_str().unwrap();
    let res = app.client.delete(app.url(&format!("/api/v1/accounts/1/keys/{id}"))).bearer_auth(&app.key).send().await;
    assert_eq!(res.unwrap().status(), 204);
    let got = call(&app, Method::GET, "/api/v1/me", Some(&secret), &[], None).await;
    problem(&(got.0, got.1), 401, "unauthenticated", None);
}

#[tokio::test]
async fn a_session_reaches_what_its_key_reaches_with_its_role() {
    let app = TestApp::spawn().await;
    app.account(2).await;
    app.put(Some("brand"), "one.png", common::png()).await;
    let viewer = app.user(1, Role::Viewer).await;
    let (secret, body, _) = sign_in(&app, &viewer).await;
    assert_eq!(body["accounts"], json!([{ "id": 1, "name": "Default", "role": "viewer" }]), "{body}");
    let token = csrf(&body);
    let (status, page, _) = call(&app, Method::GET, "/api/v1/accounts/1/assets", Some(&secret), &[], None).await;
    assert_eq!((status, page["items"].as_array().map(Vec::len)), (200, Some(1)), "{page}");
    // Another account: not there.
    let got = call(&app, Method::GET, "/api/v1/accounts/2/assets", Some(&secret), &[], None).await;
    problem(&(got.0, got.1), 404, "not_found", None);
    // A viewer's session cannot change anything, token or not.
    let got = create_collection(&app, &secret, &[("x-csrf-token", &token)], "no").await;
    problem(&(got.0, got.1), 403, "forbidden", None);
    // A Bearer key beside the cookie is the caller, and needs no token.
    let got = create_collection(&app, &secret, &[("authorization", &format!("Bearer {}", app.key))], "by key").await;
    assert_eq!(got.0, 201, "{}", got.1);
}
