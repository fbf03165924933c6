//! Asset attributes and collections through the core, on a running server's library (on
//! PostgreSQL + S3 too, where configured): who may change what, the limits with the parameter
//! they name, tenancy by id, copies and moves carrying everything, and collections.

mod common;

use assetlib_core::model::{AssetPatch, Metadata};
use assetlib_core::{AccountId, AssetId, CollectionId, ErrorKind, UserId};
use common::TestApp;

const A: AccountId = AccountId(1);

fn tags(values: &[&str]) -> AssetPatch {
    AssetPatch { tags: Some(values.iter().map(|s| s.to_string()).collect()), ..AssetPatch::default() }
}

#[tokio::test]
async fn editors_change_attributes_members_favourite_and_others_see_nothing() {
    let app = TestApp::spawn().await;
    app.put(Some("p"), "hero.png", common::png()).await;
    let owner = app.owner().await;
    let lib = app.lib();
    let asset = lib.find_asset(&owner, A, "p/hero.png").await.unwrap();

    let col = lib.create_collection(&owner, A, "Spring", "The spring campaign").await.unwrap();
    let patch = AssetPatch {
        collection_ids: Some(vec![col.id.clone()]),
        approved: Some(true),
        batch_id: Some(Some("batch-7".into())),
        favourite: Some((UserId("someone-else".into()), true)),
        ..tags(&["Hero", "spring"])
    };
    let changed = lib.update_asset(&owner, A, &asset.id, patch).await.unwrap();
    assert_eq!(changed.attributes.tags, ["Hero", "spring"]);
    assert_eq!(changed.attributes.collection_ids, std::slice::from_ref(&col.id));
    assert_eq!(changed.attributes.favourites, std::slice::from_ref(&owner.user), "the favourite is the caller's");
    assert!(changed.attributes.approved_at.is_some());
    assert_eq!(lib.asset_by_id(&owner, &asset.id).await.unwrap(), changed);
    assert_eq!(lib.find_asset(&owner, A, "p/hero.png").await.unwrap(), changed, "by key, the same asset");

    // A viewer may favourite, and nothing else; a read-only key may not even that.
    let viewer = lib.authenticate(&app.user(1, assetlib_core::model::Role::Viewer).await).await.unwrap();
    let fav = AssetPatch { favourite: Some((viewer.user.clone(), true)), ..AssetPatch::default() };
    let faved = lib.update_asset(&viewer, A, &asset.id, fav.clone()).await.unwrap();
    assert_eq!(faved.attributes.favourites, [owner.user.clone(), viewer.user.clone()]);
    let refused = lib.update_asset(&viewer, A, &asset.id, tags(&["mine"])).await.unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Forbidden);
    let mut read_only = viewer.clone();
    read_only.read_only = true;
    let refused = lib.update_asset(&read_only, A, &asset.id, fav).await.unwrap_err();
    assert_eq!((refused.kind, refused.message.as_str()), (ErrorKind::Forbidden, "This API key is read-only."));

    // Another account's member finds nothing by id and changes nothing.
    app.account(2).await;
    let other = lib.authenticate(&app.user(2, assetlib_core::model::Role::Owner).await).await.unwrap();
    assert_eq!(lib.asset_by_id(&other, &asset.id).await.unwrap_err().kind, ErrorKind::NotFound);
    assert!(lib.update_asset(&other, A, &asset.id, tags(&["x"])).await.is_err());
    assert_eq!(
        lib.update_asset(&other, AccountId(2), &asset.id, tags(&["x"])).await.unwrap_err().kind,
        ErrorKind::NotFound,
        "an id of another account, under the caller's own"
    );
    assert_eq!(lib.asset_by_id(&owner, &AssetId("none".into())).await.unwrap_err().kind, ErrorKind::NotFound);
    assert_eq!(lib.asset_by_id(&owner, &asset.id).await.unwrap().attributes.tags, ["Hero", "spring"]);
}

#[tokio::test]
async fn bad_values_name_their_parameter_and_change_nothing() {
    let app = TestApp::spawn().await;
    app.put(None, "a.png", common::png()).await;
    app.account(2).await;
    let owner = app.owner().await;
    let lib = app.lib();
    let asset = lib.find_asset(&owner, A, "a.png").await.unwrap();
    let theirs = lib.authenticate(&app.user(2, assetlib_core::model::Role::Owner).await).await.unwrap();
    let their_col = lib.create_collection(&theirs, AccountId(2), "Theirs", "").await.unwrap();

    let long = "x".repeat(129);
    let many: Vec<String> = (0..101).map(|i| format!("t{i}")).collect();
    let bad_metadata: Metadata = [(String::new(), "v".into())].into();
    let cases: Vec<(AssetPatch, &str)> = vec![
        (tags(&[""]), "tags"),
        (tags(&["  "]), "tags"),
        (tags(&[long.as_str()]), "tags"),
        (tags(&["a\u{7}b"]), "tags"),
        (AssetPatch { tags: Some(many.clone()), ..AssetPatch::default() }, "tags"),
        (AssetPatch { skus: Some(vec![long.clone()]), ..AssetPatch::default() }, "skus"),
        (AssetPatch { batch_id: Some(Some("b".repeat(257))), ..AssetPatch::default() }, "batchId"),
        (AssetPatch { batch_id: Some(Some(String::new())), ..AssetPatch::default() }, "batchId"),
        (AssetPatch { metadata: Some(bad_metadata), ..AssetPatch::default() }, "metadata"),
        (AssetPatch { expires_at: Some(Some(-1)), ..AssetPatch::default() }, "expiresAt"),
        (AssetPatch { license_expires_at: Some(Some(-5)), ..AssetPatch::default() }, "licenseExpiresAt"),
        (AssetPatch { collection_ids: Some(vec![their_col.id.clone()]), ..AssetPatch::default() }, "collectionIds"),
        (
            AssetPatch { collection_ids: Some(vec![CollectionId("col_none".into())]), ..AssetPatch::default() },
            "collectionIds",
        ),
    ];
    for (patch, param) in cases {
        let e = lib.update_asset(&owner, A, &asset.id, patch.clone()).await.unwrap_err();
        assert_eq!((e.kind, e.param.as_deref()), (ErrorKind::Invalid, Some(param)), "{patch:?}: {e:?}");
    }
    assert_eq!(lib.asset_by_id(&owner, &asset.id).await.unwrap(), asset, "nothing changed");
}

#[tokio::test]
async fn copies_and_moves_carry_every_attribute_and_mark() {
    let app = TestApp::spawn().await;
    app.put(Some("src"), "a.png", common::png()).await;
    let owner = app.owner().await;
    let lib = app.lib();
    let asset = lib.find_asset(&owner, A, "src/a.png").await.unwrap();
    let col = lib.create_collection(&owner, A, "Kept", "").await.unwrap();
    let patch = AssetPatch {
        skus: Some(vec!["SKU-1".into()]),
        collection_ids: Some(vec![col.id.clone()]),
        sensitive: Some(true),
        license_expires_at: Some(Some(1_900_000_000_000)),
        metadata: Some([("team".to_string(), "red".to_string())].into()),
        ..tags(&["kept"])
    };
    let asset = lib.update_asset(&owner, A, &asset.id, patch).await.unwrap();
    let copy = lib.copy_asset(&owner, A, "src/a.png", "dst/copy.png", false).await.unwrap();
    assert_ne!(copy.id, asset.id);
    assert_eq!(
        (&copy.attributes, copy.sensitive_at, &copy.metadata),
        (&asset.attributes, asset.sensitive_at, &asset.metadata)
    );
    let moved = lib.move_asset(&owner, A, "src/a.png", "dst/moved.png", false).await.unwrap();
    assert_eq!(
        (&moved.attributes, moved.sensitive_at, &moved.metadata),
        (&asset.attributes, asset.sensitive_at, &asset.metadata)
    );
    assert_eq!(moved.id, asset.id, "a move keeps the asset's id");
    assert!(lib.find_asset(&owner, A, "src/a.png").await.is_err(), "the source key is free");
}

#[tokio::test]
async fn collections_belong_to_their_account() {
    let app = TestApp::spawn().await;
    app.put(None, "a.png", common::png()).await;
    app.account(2).await;
    let owner = app.owner().await;
    let lib = app.lib();
    let one = lib.create_collection(&owner, A, "One", "first").await.unwrap();
    let two = lib.create_collection(&owner, A, "Two", "").await.unwrap();
    assert_eq!((one.name.as_str(), one.created_by.as_ref()), ("One", Some(&owner.user)));
    let listed = lib.collections(&owner, A, None, 10).await.unwrap();
    assert_eq!((listed.items.len(), listed.next.as_ref()), (2, None), "one page holds both");
    let first = lib.collections(&owner, A, None, 1).await.unwrap();
    assert_eq!(first.items, listed.items[..1]);
    assert_eq!(first.next.as_ref(), Some(&listed.items[0].0.id), "a full page says where the next starts");
    let after = lib.collections(&owner, A, first.next.as_ref(), 10).await.unwrap();
    assert_eq!((after.items.as_slice(), after.next), (&listed.items[1..], None));
    assert_eq!(lib.collection(&owner, A, &one.id).await.unwrap(), one);
    let renamed = lib.update_collection(&owner, A, &one.id, Some("Uno"), None).await.unwrap();
    assert_eq!((renamed.name.as_str(), renamed.description.as_str()), ("Uno", "first"));

    let e = lib.create_collection(&owner, A, " ", "").await.unwrap_err();
    assert_eq!((e.kind, e.param.as_deref()), (ErrorKind::Invalid, Some("name")));
    let e = lib.update_collection(&owner, A, &one.id, None, Some(&"d".repeat(4097))).await.unwrap_err();
    assert_eq!((e.kind, e.param.as_deref()), (ErrorKind::Invalid, Some("description")));

    let viewer = lib.authenticate(&app.user(1, assetlib_core::model::Role::Viewer).await).await.unwrap();
    assert_eq!(lib.collections(&viewer, A, None, 10).await.unwrap().items.len(), 2, "members read them");
    assert_eq!(lib.create_collection(&viewer, A, "Mine", "").await.unwrap_err().kind, ErrorKind::Forbidden);
    let other = lib.authenticate(&app.user(2, assetlib_core::model::Role::Owner).await).await.unwrap();
    assert!(lib.collections(&other, A, None, 10).await.is_err());
    assert!(lib.collections(&other, AccountId(2), None, 10).await.unwrap().items.is_empty());
    assert_eq!(lib.collection(&other, AccountId(2), &one.id).await.unwrap_err().kind, ErrorKind::NotFound);
    assert_eq!(lib.delete_collection(&other, AccountId(2), &one.id).await.unwrap_err().kind, ErrorKind::NotFound);

    // Deleting one takes it out of its assets.
    let asset = lib.find_asset(&owner, A, "a.png").await.unwrap();
    let patch = AssetPatch { collection_ids: Some(vec![one.id.clone(), two.id.clone()]), ..AssetPatch::default() };
    lib.update_asset(&owner, A, &asset.id, patch).await.unwrap();
    let sizes: Vec<u64> = lib.collections(&owner, A, None, 10).await.unwrap().items.iter().map(|(_, n)| *n).collect();
    assert_eq!(sizes, [1, 1]);
    lib.delete_collection(&owner, A, &one.id).await.unwrap();
    assert_eq!(
        lib.asset_by_id(&owner, &asset.id).await.unwrap().attributes.collection_ids,
        std::slice::from_ref(&two.id)
    );
    assert_eq!(lib.collection(&owner, A, &one.id).await.unwrap_err().kind, ErrorKind::NotFound);
}
