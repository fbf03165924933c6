//! Signed links (SPEC 5.5, 5.4 `links`): made by any member for any version of an asset, served
//! without credentials until they expire, whatever the account's public flag or the asset's
//! marks; refused alike (403, nothing about the asset) when forged, altered, expired, made by
//! a server with another key, or left pointing at a deleted asset. On S3 a link is the store's
//! presigned URL, which a plain GET follows to the bytes.

mod common;

use assetlib_core::library::links::LinkTarget;
use assetlib_core::model::{AssetPatch, Role};
use assetlib_core::signing::{Disposition, MAX_LINK_SECS};
use assetlib_core::{AccountId, AssetId, ErrorKind};
use common::TestApp;

const PRIVATE: AccountId = AccountId(2);

/// A private account with one file in it; its owner, and the file's asset.
async fn private_file(app: &TestApp, bytes: &[u8]) -> (assetlib_core::auth::Principal, assetlib_core::model::Asset) {
    app.private_account(2).await;
    let key = app.user(2, Role::Owner).await;
    let res = app.upload(&key, 2, Some("secret"), "plan_1.png", bytes.to_vec()).await;
    assert_eq!(res.status(), 200);
    let owner = app.lib().authenticate(&key).await.unwrap();
    let asset = app.lib().find_asset(&owner, PRIVATE, "secret/plan_1.png").await.unwrap();
    (owner, asset)
}

/// The URL a link points at.
fn url_of(app: &TestApp, target: &LinkTarget) -> String {
    match target {
        LinkTarget::Store(url) => url.clone(),
        LinkTarget::Server(token) => app.url(&format!("/signed/{token}")),
    }
}

#[tokio::test]
async fn a_link_serves_a_private_archived_file_to_anyone_until_it_expires() {
    let app = TestApp::spawn().await;
    let bytes = common::png();
    let (owner, asset) = private_file(&app, &bytes).await;
    let public = app.client.get(app.url("/files/2/secret/plan_1.png")).send().await.unwrap();
    assert_eq!(public.status(), 404, "the account is private");
    let archive = AssetPatch { archived: Some(true), ..AssetPatch::default() };
    app.lib().update_asset(&owner, PRIVATE, &asset.id, archive).await.unwrap();

    let link = app.lib().signed_link(&owner, PRIVATE, &asset.id, "original", None, Disposition::Attachment).await;
    let link = link.unwrap();
    let on_s3 = app.backend.s3.is_some();
    assert_eq!(matches!(link.target, LinkTarget::Store(_)), on_s3, "S3 gives its own presigned URL: {link:?}");
    let lifetime = link.expires_at - assetlib_core::model::now_millis();
    assert!((295_000..=300_000).contains(&lifetime), "the default lifetime is 300 s: {lifetime}");

    let res = app.client.get(url_of(&app, &link.target)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let disposition = res.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.starts_with("attachment;") && disposition.contains("filename=\"plan_1.png\""), "{disposition}");
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(res.headers()["cache-control"].to_str().unwrap().starts_with("private"));
    assert_eq!(&res.bytes().await.unwrap()[..], &bytes[..]);

    if let LinkTarget::Server(token) = &link.target {
        // The server's own links also answer ranges, validators and HEAD as public files do.
        let url = app.url(&format!("/signed/{token}"));
        let res = app.client.get(&url).header("range", "bytes=1-3").send().await.unwrap();
        assert_eq!((res.status().as_u16(), res.bytes().await.unwrap().len()), (206, 3));
        let head = app.client.head(&url).send().await.unwrap();
        let etag = head.headers()["etag"].clone();
        let res = app.client.get(&url).header("if-none-match", etag).send().await.unwrap();
        assert_eq!(res.status(), 304);
    }

    // A short link stops working when it runs out.
    let short = app.lib().signed_link(&owner, PRIVATE, &asset.id, "original", Some(1), Disposition::Inline).await;
    let url = url_of(&app, &short.unwrap().target);
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(2_200)).await;
    let expired = app.client.get(&url).send().await.unwrap();
    assert_eq!(expired.status(), 403, "expired");
}

#[tokio::test]
async fn forged_altered_foreign_and_dangling_links_are_refused_alike() {
    let app = TestApp::spawn().await;
    let (owner, asset) = private_file(&app, b"top secret bytes").await;
    let make = || app.lib().signed_link(&owner, PRIVATE, &asset.id, "original", Some(600), Disposition::Inline);
    let LinkTarget::Server(token) = make().await.unwrap().target else {
        return; // on S3 the store signs, and checks, its own links
    };
    let client = &app.client;
    let refused = |url: String| async move {
        let res = client.get(&url).send().await.unwrap();
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        assert_eq!((status, body.as_str()), (403, "This link is not valid or has expired.\n"), "{url}");
    };
    let (payload, tag) = token.split_once('.').unwrap();
    let mut flipped = payload.to_owned().into_bytes();
    flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
    for bad in [
        format!("{}.{tag}", String::from_utf8(flipped).unwrap()),
        format!("{payload}.{}", &tag[1..]),
        format!("{payload}."),
        payload.to_owned(),
        "garbage".to_owned(),
        "%FF%FE".to_owned(),
        "a".repeat(5000),
    ] {
        refused(app.url(&format!("/signed/{bad}"))).await;
    }
    // Another library's server (its own key) refuses this one's links.
    let other =
        TestApp::spawn_with(|c| c.signing_secret = Some("another library's secret, 32 bytes or more".into())).await;
    refused(other.url(&format!("/signed/{token}"))).await;
    // A link to an asset deleted since is refused the same way.
    assert_eq!(app.client.get(app.url(&format!("/signed/{token}"))).send().await.unwrap().status(), 200);
    app.lib().delete_asset(&owner, PRIVATE, "secret/plan_1.png").await.unwrap();
    refused(app.url(&format!("/signed/{token}"))).await;
}

#[tokio::test]
async fn who_may_make_a_link_and_for_how_long() {
    let app = TestApp::spawn().await;
    let (_owner, asset) = private_file(&app, b"x").await;
    let lib = app.lib();
    let viewer = lib.authenticate(&app.user(2, Role::Viewer).await).await.unwrap();
    let link = |who, account, id, version, secs| {
        let (lib, id): (&assetlib_core::Library, AssetId) = (lib, id);
        async move { lib.signed_link(who, account, &id, version, secs, Disposition::Inline).await }
    };
    link(&viewer, PRIVATE, asset.id.clone(), "original", Some(MAX_LINK_SECS)).await.expect("any member, up to 7 days");
    for secs in [0, MAX_LINK_SECS + 1] {
        let e = link(&viewer, PRIVATE, asset.id.clone(), "original", Some(secs)).await.unwrap_err();
        assert_eq!((e.kind, e.param.as_deref()), (ErrorKind::Invalid, Some("expiresIn")), "{secs}");
    }
    let e = link(&viewer, PRIVATE, asset.id.clone(), "thumbnail", None).await.unwrap_err();
    assert_eq!((e.kind, e.param.as_deref()), (ErrorKind::NotFound, Some("version")));
    // Account 1's owner reaches neither account 2 nor, under account 1, account 2's asset.
    let first = app.owner().await;
    assert_eq!(link(&first, PRIVATE, asset.id.clone(), "original", None).await.unwrap_err().kind, ErrorKind::Forbidden);
    let e = link(&first, AccountId(1), asset.id.clone(), "original", None).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    let e = link(&viewer, PRIVATE, AssetId("nope".into()), "original", None).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
}

#[tokio::test]
async fn servers_of_one_library_must_share_their_signing_key() {
    let dir = tempfile::tempdir().unwrap();
    // Unset, a server generates its key into its data dir, readable by it alone, and keeps it.
    let mut config = common::test_config(dir.path());
    config.signing_secret = None;
    let first = assetlib::start(&config).await.unwrap();
    let path = config.data_dir.join("signing-key");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let key = std::fs::read_to_string(&path).unwrap();
    first.stop().await.unwrap();
    let again = assetlib::start(&config).await.unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), key, "a restart keeps the key");
    again.stop().await.unwrap();
    // The library registered that key: a server of it with another key refuses to start.
    config.signing_secret = Some("a different secret that is long enough".into());
    let e = assetlib::start(&config).await.err().expect("another key is refused");
    let message = format!("{e:#}");
    assert!(message.contains("signing_secret") && message.contains("differs"), "{message}");
}
