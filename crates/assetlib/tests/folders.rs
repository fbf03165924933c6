//! Implicit and explicit folders (SPEC section 2), as the Jivox listing shows them.

mod common;

use assetlib_core::{AccountId, ErrorKind};
use common::{TestApp, png};
use serde_json::json;

const LIB: &str = "/v2/accounts/1/asset-library";

#[tokio::test]
async fn explicit_folders_persist_while_empty_and_implicit_ones_do_not() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    let created = app.lib().create_folder(&owner, AccountId(1), "brand/empty/").await.unwrap();
    assert_eq!(created, "brand/empty");
    assert_eq!(app.get_json(&app.key, LIB).await.1["folders"], json!(["brand"]));
    assert_eq!(app.get_json(&app.key, &format!("{LIB}?prefix=brand")).await.1["folders"], json!(["empty"]));

    // Filling and emptying an explicit folder leaves it; an implicit one beside it goes.
    app.put(Some("brand/empty"), "x.png", png()).await;
    app.put(Some("brand/implicit"), "y.png", png()).await;
    app.delete_json(&app.key, &format!("{LIB}?command=deleteFile&path=brand/empty&file=x.png")).await;
    app.delete_json(&app.key, &format!("{LIB}?command=deleteFile&path=brand/implicit&file=y.png")).await;
    assert_eq!(app.get_json(&app.key, &format!("{LIB}?prefix=brand")).await.1["folders"], json!(["empty"]));

    // Creating what exists is a conflict and changes nothing, for implicit folders too.
    let e = app.lib().create_folder(&owner, AccountId(1), "brand/empty").await.unwrap_err();
    assert_eq!((e.kind, e.message.as_str()), (ErrorKind::Conflict, "Folder 'brand/empty' already exists."));
    assert_eq!(app.lib().create_folder(&owner, AccountId(1), "brand").await.unwrap_err().kind, ErrorKind::Conflict);
    let e = app.lib().create_folder(&owner, AccountId(1), "a/../b").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid);

    // deleteFolder removes an explicit folder, and the implicit parent it alone kept.
    let (status, _) = app.delete_json(&app.key, &format!("{LIB}?command=deleteFolder&path=brand/empty")).await;
    assert_eq!(status, 200);
    assert_eq!(app.get_json(&app.key, LIB).await.1["folders"], json!([]));

    // Creating a folder is a write.
    let viewer = app.lib().authenticate(&app.user(1, assetlib_core::model::Role::Viewer).await).await.unwrap();
    let e = app.lib().create_folder(&viewer, AccountId(1), "v").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Forbidden);
    app.stop().await;
}

/// The core bounds every page, whatever a caller asks for: a limit of "everything" neither
/// returns an unbounded page nor overflows the one extra entry a listing reads.
#[tokio::test]
async fn listings_take_any_limit() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    app.put(Some("brand"), "a.png", png()).await;
    let page = app.lib().list_folder(&owner, AccountId(1), "brand", None, usize::MAX).await.unwrap();
    assert_eq!((page.entries.len(), page.next), (1, None));
    let page = app.lib().list_assets(&owner, AccountId(1), "", true, None, usize::MAX).await.unwrap();
    assert_eq!((page.assets.len(), page.next), (1, None));
    app.stop().await;
}
