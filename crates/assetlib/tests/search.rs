//! The core's search on a running server's library (on PostgreSQL + S3 too, where configured):
//! the caller's scope, the owner-only filters, the bounds with the parameter they name, and
//! pages that follow each other by cursor. What each filter matches is the store's
//! conformance suite's (crates/db/tests/conformance.rs, `asset_store_search`).

mod common;

use assetlib_core::model::Role;
use assetlib_core::search::{AssetQuery, MAX_IDS, MAX_SKIP, Paging, Scope};
use assetlib_core::{AccountId, AssetId, ErrorKind};
use common::TestApp;

fn names(page: &assetlib_core::search::SearchPage) -> Vec<String> {
    let mut n: Vec<String> = page.assets.iter().map(|a| format!("{}/{}", a.account, a.name)).collect();
    n.sort();
    n
}

#[tokio::test]
async fn a_search_sees_what_the_key_reaches_and_nothing_else() {
    let app = TestApp::spawn().await;
    app.account(2).await;
    app.account(3).await;
    app.put(None, "one.png", common::png()).await;
    let other = app.user(2, Role::Owner).await;
    assert_eq!(app.upload(&other, 2, None, "two.png", common::png()).await.status(), 200);
    let third = app.user(3, Role::Owner).await;
    assert_eq!(app.upload(&third, 3, None, "three.png", common::png()).await.status(), 200);
    let lib = app.lib();
    let owner = app.owner().await;
    let second = lib.authenticate(&other).await.unwrap();
    let all = |limit| AssetQuery::new(Scope::All, limit);

    let page = lib.search_assets(&owner, all(10)).await.unwrap();
    assert_eq!(names(&page), ["1/one.png"], "only the accounts the key reaches");
    let page = lib.search_assets(&second, all(10)).await.unwrap();
    assert_eq!(names(&page), ["2/two.png"]);
    let admin = lib.authenticate(&app.admin().await).await.unwrap();
    let page = lib.search_assets(&admin, all(10)).await.unwrap();
    assert_eq!(names(&page), ["1/one.png", "2/two.png", "3/three.png"], "a platform admin reaches all");
    let mut pinned = admin.clone();
    pinned.key_account = Some(AccountId(3));
    assert_eq!(
        names(&lib.search_assets(&pinned, all(10)).await.unwrap()),
        ["3/three.png"],
        "a key pinned to one account"
    );

    let named = AssetQuery::new(Scope::Accounts(vec![AccountId(2)]), 10);
    assert_eq!(lib.search_assets(&owner, named.clone()).await.unwrap_err().kind, ErrorKind::Forbidden);
    assert_eq!(names(&lib.search_assets(&second, named).await.unwrap()), ["2/two.png"]);
    let by_id = AssetQuery {
        ids: lib.search_assets(&second, all(10)).await.unwrap().assets.iter().map(|a| a.id.clone()).collect(),
        ..all(10)
    };
    assert!(lib.search_assets(&owner, by_id).await.unwrap().assets.is_empty(), "ids of another account find nothing");
}

#[tokio::test]
async fn owner_only_filters_and_bounds_are_checked_in_the_core() {
    let app = TestApp::spawn().await;
    let lib = app.lib();
    let owner = app.owner().await;
    let editor = lib.authenticate(&app.user(1, Role::Editor).await).await.unwrap();
    let viewer = lib.authenticate(&app.user(1, Role::Viewer).await).await.unwrap();
    let mine = AssetQuery::new(Scope::Accounts(vec![AccountId(1)]), 10);
    for q in [
        AssetQuery { sensitive: Some(false), ..mine.clone() },
        AssetQuery { archived: Some(false), ..mine.clone() },
        AssetQuery { license_expired: Some(true), ..mine.clone() },
    ] {
        for who in [&editor, &viewer] {
            assert_eq!(lib.search_assets(who, q.clone()).await.unwrap_err().kind, ErrorKind::Forbidden, "{q:?}");
        }
        lib.search_assets(&owner, q.clone()).await.unwrap();
        let mut read_only = owner.clone();
        read_only.read_only = true;
        lib.search_assets(&read_only, q).await.expect("a read-only owner key may use them: a search is a read");
    }
    let too_many = AssetQuery { ids: (0..=MAX_IDS).map(|i| AssetId(format!("id{i}"))).collect(), ..mine.clone() };
    let e = lib.search_assets(&owner, too_many).await.unwrap_err();
    assert_eq!((e.kind, e.param.as_deref()), (ErrorKind::Invalid, Some("id")));
    let deep = AssetQuery { paging: Paging::Skip(MAX_SKIP + 1), ..mine.clone() };
    let e = lib.search_assets(&owner, deep).await.unwrap_err();
    assert_eq!((e.kind, e.param.as_deref()), (ErrorKind::Invalid, Some("skip")));
    lib.search_assets(&owner, AssetQuery { paging: Paging::Skip(MAX_SKIP), ..mine }).await.unwrap();
}

#[tokio::test]
async fn pages_follow_each_other_and_are_capped() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        app.put(Some("p"), &format!("f{i}.png"), common::png()).await;
    }
    let lib = app.lib();
    let owner = app.owner().await;
    let q = AssetQuery::new(Scope::Accounts(vec![AccountId(1)]), 2);
    let mut seen = vec![];
    let mut paging = Paging::After(None);
    loop {
        let page = lib.search_assets(&owner, AssetQuery { paging: paging.clone(), ..q.clone() }).await.unwrap();
        assert!(page.assets.len() <= 2);
        seen.extend(page.assets.iter().map(|a| a.name.clone()));
        match page.next {
            Some(next) => paging = Paging::After(Some(next)),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5, "no asset twice");
    let huge = lib.search_assets(&owner, AssetQuery { limit: usize::MAX, ..q }).await.unwrap();
    assert_eq!((huge.assets.len(), huge.next.is_none()), (5, true), "a huge limit is capped, not overflowed");
}
