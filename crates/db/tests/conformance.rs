//! The metadata store's conformance suite: one set of checks every engine must pass, one
//! section per port of `assetlib_core::ports` (named after it: `AssetStore` is checked by
//! `asset_store`). Each engine gets a `#[tokio::test]` that opens a fresh store and runs
//! [`suite`]; [`every_port_method_has_a_case`] holds each section to every method of its port.

use assetlib_core::auth::hash_api_key;
use assetlib_core::cursor::Cursor;
use assetlib_core::model::{
    Account, AssetPatch, Attributes, Collection, Entry, FolderDelete, Metadata, NewApiKey, NewJob, QueueEntry,
    QueueStatus, Role, User,
};
use assetlib_core::model::{JobKind, JobQueue};
use assetlib_core::ports::MetaStore;
use assetlib_core::search::{AssetQuery, ContentTypeFilter, Paging, Scope, SearchCursor, Sort};
use assetlib_core::transfer::{Record, Table};
use assetlib_core::{AccountId, AssetId, BlobKey, CollectionId, ErrorKind, QueueId, UserId};
use std::sync::Arc;

mod common;

const A: AccountId = AccountId(1);
const B: AccountId = AccountId(2);

fn queue(id: &str, account: AccountId, source: Option<&str>) -> QueueEntry {
    QueueEntry {
        id: QueueId(id.into()),
        account,
        status: QueueStatus::Queued,
        total_items: 0,
        total_processed: 0,
        message: "Queued".into(),
        errors: vec![],
        source_blob: source.map(|s| BlobKey(s.into())),
        created_at: 1,
        updated_at: 1,
    }
}

fn md(pairs: &[(&str, &str)]) -> Metadata {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn names(entries: &[Entry]) -> Vec<String> {
    entries.iter().map(|e| if e.is_folder() { format!("{}/", e.name()) } else { e.name().to_owned() }).collect()
}

/// Claims every due job of every queue and returns their kinds (finishing them).
async fn drain_jobs(store: &dyn MetaStore, now: i64) -> Vec<JobKind> {
    let mut out = vec![];
    for queue in JobQueue::ALL {
        while let Some(job) = store.claim_job(queue, "drain", now, now + 60_000).await.unwrap() {
            out.push(job.kind.clone());
            assert!(store.finish_job(job.fence()).await.unwrap());
        }
    }
    out
}

pub async fn suite(store: Arc<dyn MetaStore>) {
    account_store(&*store).await;
    asset_store(&*store).await;
    asset_store_search(&*store).await;
    folder_store(&*store).await;
    collection_store(&*store).await;
    setting_store(&*store).await;
    session_store(&*store).await;
    upload_queue_store(&*store).await;
    job_store(&*store).await;
    rendition_store(&*store).await;
}

async fn account_store(store: &dyn MetaStore) {
    assert_eq!(store.account_count().await.unwrap(), 0);
    for id in [A, B] {
        store.create_account(&Account { id, name: format!("acct {id}"), public: true, created_at: 1 }).await.unwrap();
    }
    let dup = store.create_account(&Account { id: A, name: "again".into(), public: true, created_at: 1 }).await;
    assert_eq!(dup.unwrap_err().kind, ErrorKind::Conflict);
    assert_eq!(store.account_count().await.unwrap(), 2);
    assert_eq!(store.get_account(A).await.unwrap().unwrap().name, "acct 1");
    assert!(store.get_account(AccountId(9)).await.unwrap().is_none());

    let user = User { id: UserId("usr_1".into()), name: "u".into(), admin: false, created_at: 1 };
    store.create_user(&user, &[(A, Role::Editor), (B, Role::Viewer)]).await.unwrap();
    let key = NewApiKey {
        id: "key_1".into(),
        name: "ci".into(),
        user: user.id.clone(),
        hash: hash_api_key("secret"),
        account: Some(B),
        read_only: true,
        created_at: 1,
    };
    store.create_api_key(&key).await.unwrap();
    let p = store.principal_for_key(&hash_api_key("secret")).await.unwrap().unwrap();
    assert_eq!(p.user, user.id);
    assert_eq!(p.roles.get(&A), Some(&Role::Editor));
    assert_eq!(p.roles.get(&B), Some(&Role::Viewer));
    assert_eq!(p.key_account, Some(B));
    assert!(p.read_only && !p.admin);
    assert!(store.principal_for_key(&hash_api_key("other")).await.unwrap().is_none());

    // Listing: the keys of the account's members that reach it, in id order, paged.
    let other = NewApiKey {
        id: "key_2".into(),
        name: "any".into(),
        account: None,
        read_only: false,
        hash: hash_api_key("secret-2"),
        ..key.clone()
    };
    store.create_api_key(&other).await.unwrap();
    let ids = |keys: Vec<assetlib_core::model::ApiKeyInfo>| keys.into_iter().map(|k| k.id).collect::<Vec<_>>();
    assert_eq!(ids(store.list_api_keys(B, "", 10).await.unwrap()), ["key_1", "key_2"]);
    assert_eq!(ids(store.list_api_keys(A, "", 10).await.unwrap()), ["key_2"], "key_1 is restricted to B");
    assert_eq!(ids(store.list_api_keys(B, "key_1", 10).await.unwrap()), ["key_2"]);
    assert_eq!(ids(store.list_api_keys(B, "", 1).await.unwrap()), ["key_1"]);
    assert!(store.list_api_keys(AccountId(9), "", 10).await.unwrap().is_empty());
    let listed = store.list_api_keys(B, "", 1).await.unwrap().remove(0);
    assert_eq!(
        (listed.name.as_str(), listed.user.clone(), listed.account, listed.read_only),
        ("ci", user.id.clone(), Some(B), true)
    );
    assert_eq!((listed.created_at, listed.last_used_at), (1, None));
    store.touch_api_key(&hash_api_key("secret"), 42).await.unwrap();
    assert_eq!(store.list_api_keys(B, "", 1).await.unwrap()[0].last_used_at, Some(42));
    // Deleting: only through an account the key reaches; it then stops working.
    assert_eq!(store.delete_api_key(A, "key_1").await.unwrap(), None, "key_1 does not reach A");
    assert_eq!(store.delete_api_key(B, "key_9").await.unwrap(), None);
    assert_eq!(store.delete_api_key(B, "key_1").await.unwrap(), Some(hash_api_key("secret")));
    assert!(store.principal_for_key(&hash_api_key("secret")).await.unwrap().is_none());
    assert_eq!(store.delete_api_key(B, "key_1").await.unwrap(), None, "already gone");
    store.create_api_key(&key).await.unwrap();
}

async fn asset_store(store: &dyn MetaStore) {
    let stored = store
        .write_assets(&common::write(
            A,
            vec![
                common::file("p", "b.png", "blob-b"),
                common::file("p", "d.png", "blob-d"),
                common::file("p/a", "x.png", "blob-ax"),
                common::file("p/c/deep/er", "x.png", "blob-cx"),
                common::file("p", "c", "blob-c-file"), // a file named like a folder
            ],
            10,
        ))
        .await
        .unwrap();
    assert_eq!(stored.len(), 5);
    let b = store.get_asset(A, "p", "b.png").await.unwrap().unwrap();
    assert_eq!((b.size, b.created_at, b.last_modified), (3, 10, 10));
    assert!(store.get_asset(B, "p", "b.png").await.unwrap().is_none(), "accounts do not share keys");
    let (acct, asset) = store.get_account_and_asset(A, "p", "b.png").await.unwrap().unwrap();
    assert_eq!((acct.id, asset), (A, Some(b.clone())));
    let (acct, asset) = store.get_account_and_asset(B, "p", "b.png").await.unwrap().unwrap();
    assert_eq!((acct.id, asset), (B, None));
    assert!(store.get_account_and_asset(AccountId(9), "p", "b.png").await.unwrap().is_none());

    // Folders first on a tie; one level only; implicit ancestors exist.
    let page = store.list_folder(A, "p", None, 100).await.unwrap();
    assert_eq!(names(&page), ["a/", "b.png", "c/", "c", "d.png"]);
    assert_eq!(names(&store.list_folder(A, "", None, 100).await.unwrap()), ["p/"]);
    assert_eq!(names(&store.list_folder(A, "p/c/deep", None, 100).await.unwrap()), ["er/"]);
    assert!(store.list_folder(B, "p", None, 100).await.unwrap().is_empty());

    // Cursors resume strictly after an entry, whatever its kind.
    let mut walked = vec![];
    let mut after: Option<Cursor> = None;
    loop {
        let page = store.list_folder(A, "p", after.as_ref(), 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        after = Some(Cursor { name: last.name().to_owned(), folder: last.is_folder() });
        walked.extend(names(&page));
    }
    assert_eq!(walked, ["a/", "b.png", "c/", "c", "d.png"]);
    let after_folder_c = Cursor { name: "c".into(), folder: true };
    assert_eq!(names(&store.list_folder(A, "p", Some(&after_folder_c), 10).await.unwrap()), ["c", "d.png"]);

    // Replacing keeps id and creation time, and queues the old blob's removal.
    let before = store.get_asset(A, "p", "d.png").await.unwrap().unwrap();
    drain_jobs(store, 100).await;
    let replaced =
        store.write_assets(&common::write(A, vec![common::file("p", "d.png", "blob-d2")], 20)).await.unwrap();
    assert_eq!(replaced[0].id, before.id);
    assert_eq!((replaced[0].created_at, replaced[0].last_modified), (10, 20));
    assert_eq!(replaced[0].blob, BlobKey("blob-d2".into()));
    assert_eq!(drain_jobs(store, 100).await, [JobKind::DeleteBlob { blob: BlobKey("blob-d".into()) }]);

    // Marks: set keeps the first time, clear empties, None leaves as is.
    store.write_assets(&common::write(A, vec![common::file("m", "x.png", "blob-m")], 40)).await.unwrap();
    let m = store.set_asset_marks(A, "m", "x.png", Some(true), None, 41).await.unwrap().unwrap();
    assert_eq!((m.archived_at, m.sensitive_at), (Some(41), None));
    let m = store.set_asset_marks(A, "m", "x.png", Some(true), Some(true), 42).await.unwrap().unwrap();
    assert_eq!((m.archived_at, m.sensitive_at), (Some(41), Some(42)));
    let m = store.set_asset_marks(A, "m", "x.png", Some(false), None, 43).await.unwrap().unwrap();
    assert_eq!((m.archived_at, m.sensitive_at), (None, Some(42)));
    assert!(store.set_asset_marks(A, "m", "none.png", Some(true), None, 44).await.unwrap().is_none());
    store.delete_folder(A, "m", 45).await.unwrap();
    drain_jobs(store, 100).await;

    // Metadata is replaced whole.
    let mut w = common::write(A, vec![common::file("k", "src.png", "blob-k")], 50);
    w.files[0].metadata = Some(md(&[("team", "red"), ("year", "2026")]));
    let src = store.write_assets(&w).await.unwrap().remove(0);
    assert_eq!(src.metadata, md(&[("team", "red"), ("year", "2026")]));
    let src = store.set_asset_metadata(A, "k", "src.png", &md(&[("team", "blue")])).await.unwrap().unwrap();
    assert_eq!(src.metadata, md(&[("team", "blue")]));
    assert!(store.set_asset_metadata(A, "k", "none.png", &md(&[])).await.unwrap().is_none());
    assert!(store.set_asset_metadata(B, "k", "src.png", &md(&[])).await.unwrap().is_none());

    // A copy shares the source's blob and metadata under its own id and time.
    let id = |s: &str| AssetId(s.into());
    let (c1, c2, c3, c4) = (id("copy-1"), id("copy-2"), id("copy-3"), id("copy-4"));
    let copy = store.copy_asset(A, ("k", "src.png"), ("k/sub", "copy.png"), false, false, &c1, None, 51);
    let copy = copy.await.unwrap().unwrap();
    assert_eq!(
        (copy.id, copy.blob.clone(), copy.metadata.clone()),
        (id("copy-1"), src.blob.clone(), src.metadata.clone())
    );
    assert_eq!((copy.created_at, copy.path.as_str(), copy.name.as_str()), (51, "k/sub", "copy.png"));
    let taken = store.copy_asset(A, ("k", "src.png"), ("k/sub", "copy.png"), false, false, &c2, None, 52);
    assert_eq!(taken.await.unwrap_err().kind, ErrorKind::Conflict);
    let over = store.copy_asset(A, ("k", "src.png"), ("k/sub", "copy.png"), true, false, &c2, None, 52);
    assert_eq!(over.await.unwrap().unwrap().id, id("copy-1"), "a replaced asset keeps its id");
    // A missing source copies nothing and leaves nothing behind, not even the folders.
    let none = store.copy_asset(A, ("k", "none.png"), ("k/ghost", "x.png"), false, false, &c3, None, 53);
    assert!(none.await.unwrap().is_none());
    assert!(!store.folder_exists(A, "k/ghost").await.unwrap());
    assert!(
        store.copy_asset(B, ("k", "src.png"), ("k", "b.png"), false, false, &c3, None, 53).await.unwrap().is_none()
    );
    // A move takes the source away and prunes the folders it leaves empty. It moves the row:
    // the asset keeps its id and its creation.
    let moved = store.copy_asset(A, ("k/sub", "copy.png"), ("k", "moved.png"), false, true, &c4, None, 54);
    let moved = moved.await.unwrap().unwrap();
    assert_eq!((&moved.id, moved.created_at, moved.last_modified), (&id("copy-1"), 51, 54));
    assert_eq!(store.get_asset_by_id(&moved.id).await.unwrap().as_ref(), Some(&moved));
    // Onto a taken key: refused without overwrite (nothing changes), else the other is replaced.
    let other =
        store.write_assets(&common::write(A, vec![common::file("k", "other.png", "blob-o")], 54)).await.unwrap();
    let taken = store.copy_asset(A, ("k", "moved.png"), ("k", "other.png"), false, true, &c4, None, 54);
    assert_eq!(taken.await.unwrap_err().kind, ErrorKind::Conflict);
    assert_eq!(store.get_asset(A, "k", "moved.png").await.unwrap().as_ref(), Some(&moved));
    let over = store.copy_asset(A, ("k", "moved.png"), ("k", "other.png"), true, true, &c4, None, 54);
    assert_eq!(over.await.unwrap().unwrap().id, moved.id);
    assert!(store.get_asset_by_id(&other[0].id).await.unwrap().is_none(), "the replaced asset is gone");
    let back = store.copy_asset(A, ("k", "other.png"), ("k", "moved.png"), false, true, &c4, None, 54);
    assert_eq!(back.await.unwrap().unwrap().id, moved.id);
    // By id: a move finds the asset wherever it is, keeps its id, refuses a taken key.
    let by_id = store.move_asset_by_id(A, &moved.id, ("k/by-id", "m.png"), 54).await.unwrap().unwrap();
    assert_eq!((&by_id.id, by_id.path.as_str(), by_id.name.as_str()), (&moved.id, "k/by-id", "m.png"));
    let taken = store.move_asset_by_id(A, &moved.id, ("k", "src.png"), 54).await.unwrap_err();
    assert_eq!(taken.kind, ErrorKind::Conflict);
    assert!(store.move_asset_by_id(B, &moved.id, ("k", "x.png"), 54).await.unwrap().is_none(), "another account's");
    assert!(store.move_asset_by_id(A, &id("none"), ("k", "x.png"), 54).await.unwrap().is_none());
    let back = store.move_asset_by_id(A, &moved.id, ("k", "moved.png"), 54).await.unwrap().unwrap();
    assert_eq!(back.id, moved.id);
    assert!(!store.folder_exists(A, "k/by-id").await.unwrap(), "the folder it left is pruned");
    // By id: a delete takes exactly that asset, and only in its account.
    let doomed = store.write_assets(&common::write(A, vec![common::file("k", "doomed.png", "blob-d2")], 54)).await;
    let doomed = doomed.unwrap().remove(0);
    assert!(!store.delete_asset_by_id(B, &doomed.id, 54).await.unwrap(), "another account's");
    assert!(store.delete_asset_by_id(A, &doomed.id, 54).await.unwrap());
    assert!(store.get_asset_by_id(&doomed.id).await.unwrap().is_none());
    assert!(!store.delete_asset_by_id(A, &doomed.id, 54).await.unwrap(), "already gone");
    assert!(store.get_asset(A, "k/sub", "copy.png").await.unwrap().is_none());
    assert!(!store.folder_exists(A, "k/sub").await.unwrap());
    assert!(store.blob_referenced(&src.blob).await.unwrap());
    let blobs = store.asset_blobs(&[src.id.clone(), id("copy-1"), id("none")]).await.unwrap();
    assert_eq!(blobs.len(), 2);
    assert_eq!(blobs.get(&src.id), Some(&src.blob));

    // Flat listings: the folder's own files in name order, then (recursive) those below it in
    // (path, name) order, resumable after any of them.
    store.write_assets(&common::write(A, vec![common::file("k/z", "deep.png", "blob-kz")], 55)).await.unwrap();
    let keys = |assets: Vec<assetlib_core::model::Asset>| -> Vec<String> {
        assets.into_iter().map(|a| format!("{}/{}", a.path, a.name)).collect()
    };
    assert_eq!(keys(store.list_assets(A, "k", false, None, 10).await.unwrap()), ["k/moved.png", "k/src.png"]);
    let all = keys(store.list_assets(A, "k", true, None, 10).await.unwrap());
    assert_eq!(all, ["k/moved.png", "k/src.png", "k/z/deep.png"]);
    assert_eq!(keys(store.list_assets(A, "k", true, None, 2).await.unwrap()), ["k/moved.png", "k/src.png"]);
    assert_eq!(keys(store.list_assets(A, "k", true, Some(("k", "src.png")), 10).await.unwrap()), ["k/z/deep.png"]);
    assert!(store.list_assets(A, "k", true, Some(("k/z", "deep.png")), 10).await.unwrap().is_empty());
    assert!(store.list_assets(B, "k", true, None, 10).await.unwrap().is_empty());

    // A delete queues the blob's removal only if the key held an asset of that account.
    drain_jobs(store, 100).await;
    assert!(!store.delete_asset(B, "k/z", "deep.png", 56).await.unwrap(), "another account's key");
    assert!(store.delete_asset(A, "k/z", "deep.png", 56).await.unwrap());
    assert!(!store.delete_asset(A, "k/z", "deep.png", 56).await.unwrap(), "already gone");
    assert!(!store.folder_exists(A, "k/z").await.unwrap(), "its implicit folder went with it");
    assert_eq!(drain_jobs(store, 100).await, [JobKind::DeleteBlob { blob: BlobKey("blob-kz".into()) }]);
    // By id, in whatever account (the core checks the account).
    assert_eq!(store.get_asset_by_id(&src.id).await.unwrap().as_ref(), Some(&src));
    assert!(store.get_asset_by_id(&id("none")).await.unwrap().is_none());

    // A patch sets what it names and leaves the rest; lists lose repeats, the first stays.
    let col = Collection {
        id: CollectionId("col-k".into()),
        account: A,
        name: "Spring".into(),
        description: String::new(),
        created_at: 57,
        last_modified: 57,
        created_by: None,
    };
    store.create_collection(&col).await.unwrap();
    let fan = UserId("usr_1".into());
    let patch = AssetPatch {
        tags: Some(vec!["Hero".into(), "spring".into(), "Hero".into()]),
        skus: Some(vec!["SKU-1".into()]),
        collection_ids: Some(vec![col.id.clone()]),
        batch_id: Some(Some("batch-1".into())),
        approved: Some(true),
        expires_at: Some(Some(500)),
        license_expires_at: Some(Some(600)),
        favourite: Some((fan.clone(), true)),
        ..AssetPatch::default()
    };
    let p = store.update_asset(A, &src.id, &patch, 58).await.unwrap().unwrap();
    let want = Attributes {
        tags: vec!["Hero".into(), "spring".into()],
        skus: vec!["SKU-1".into()],
        collection_ids: vec![col.id.clone()],
        batch_id: Some("batch-1".into()),
        approved_at: Some(58),
        expires_at: Some(500),
        license_expires_at: Some(600),
        favourites: vec![fan.clone()],
    };
    assert_eq!(p.attributes, want);
    assert_eq!((p.metadata.clone(), p.blob.clone(), p.archived_at), (src.metadata.clone(), src.blob.clone(), None));
    assert_eq!(store.get_asset_by_id(&src.id).await.unwrap().as_ref(), Some(&p), "reads give what was written");
    assert_eq!(store.get_asset(A, "k", "src.png").await.unwrap().as_ref(), Some(&p));
    // Setting a mark again keeps its first time; `Some(None)` clears; a favourite is withdrawn.
    let patch = AssetPatch {
        approved: Some(true),
        archived: Some(true),
        batch_id: Some(None),
        expires_at: Some(None),
        favourite: Some((fan.clone(), false)),
        metadata: Some(md(&[("team", "green")])),
        ..AssetPatch::default()
    };
    let p = store.update_asset(A, &src.id, &patch, 59).await.unwrap().unwrap();
    assert_eq!((p.attributes.approved_at, p.archived_at, p.attributes.batch_id.clone()), (Some(58), Some(59), None));
    assert_eq!((p.attributes.expires_at, p.attributes.license_expires_at), (None, Some(600)));
    assert!(p.attributes.favourites.is_empty());
    assert_eq!((p.attributes.tags.len(), p.metadata.clone()), (2, md(&[("team", "green")])));
    // Counters add up, in one write for many assets; a missing asset is skipped; they change
    // nothing else.
    let before = store.get_asset_by_id(&src.id).await.unwrap().unwrap();
    let counts = [(src.id.clone(), 2, 1), (id("gone"), 5, 5)];
    store.add_asset_counts(&counts).await.unwrap();
    store.add_asset_counts(&[(src.id.clone(), 1, 0)]).await.unwrap();
    store.add_asset_counts(&[]).await.unwrap();
    let counted = store.get_asset_by_id(&src.id).await.unwrap().unwrap();
    assert_eq!((counted.views, counted.downloads), (before.views + 3, before.downloads + 1));
    assert_eq!(assetlib_core::model::Asset { views: before.views, downloads: before.downloads, ..counted }, before);
    // A merge is applied to the row as stored: it keeps what it does not name.
    let merge = |pairs: &[(&str, Option<&str>)]| AssetPatch {
        metadata_merge: Some(pairs.iter().map(|(k, v)| (k.to_string(), v.map(str::to_owned))).collect()),
        ..AssetPatch::default()
    };
    let m = store.update_asset(A, &src.id, &merge(&[("size", Some("xl"))]), 59).await.unwrap().unwrap();
    assert_eq!(m.metadata, md(&[("size", "xl"), ("team", "green")]));
    let m = store.update_asset(A, &src.id, &merge(&[("size", None), ("gone", None)]), 59).await.unwrap().unwrap();
    assert_eq!(m.metadata, md(&[("team", "green")]));
    // One that would leave more than 100 entries changes nothing.
    let many: Vec<(String, Option<String>)> = (0..100).map(|i| (format!("k{i:03}"), Some("v".into()))).collect();
    let over = AssetPatch { metadata_merge: Some(many.into_iter().collect()), ..AssetPatch::default() };
    let e = store.update_asset(A, &src.id, &over, 59).await.unwrap_err();
    assert_eq!((e.kind, e.param.as_deref()), (ErrorKind::Invalid, Some("metadata")));
    assert_eq!(store.get_asset_by_id(&src.id).await.unwrap().unwrap().metadata, md(&[("team", "green")]));
    assert!(store.update_asset(B, &src.id, &patch, 59).await.unwrap().is_none(), "another account's asset");
    assert!(store.update_asset(A, &id("none"), &patch, 59).await.unwrap().is_none());
    // Replacing the content keeps every attribute; a copy carries them all, marks included.
    let w = common::write(A, vec![common::file("k", "src.png", "blob-k2")], 60);
    let replaced = store.write_assets(&w).await.unwrap().remove(0);
    assert_eq!(
        (replaced.id.clone(), &replaced.attributes, replaced.archived_at),
        (src.id.clone(), &p.attributes, Some(59))
    );
    drain_jobs(store, 100).await;
    let c5 = id("copy-5");
    let copy = store.copy_asset(A, ("k", "src.png"), ("k", "copy5.png"), false, false, &c5, None, 61);
    let copy = copy.await.unwrap().unwrap();
    assert_eq!((&copy.attributes, copy.archived_at, &copy.metadata), (&p.attributes, Some(59), &p.metadata));
    assert_eq!(store.get_asset_by_id(&c5).await.unwrap().as_ref(), Some(&copy));
    store.delete_folder(A, "k", 56).await.unwrap();
    assert!(!store.blob_referenced(&src.blob).await.unwrap());
    drain_jobs(store, 100).await;
}

/// The search: every filter, sort and way of paging, on a small library of its own (account 3,
/// with a look-alike in account 2 that scopes keep out).
async fn asset_store_search(store: &dyn MetaStore) {
    const C: AccountId = AccountId(3);
    store.create_account(&Account { id: C, name: "search".into(), public: true, created_at: 1 }).await.unwrap();
    let col = Collection {
        id: CollectionId("col-s".into()),
        account: C,
        name: "S".into(),
        description: String::new(),
        created_at: 1,
        last_modified: 1,
        created_by: None,
    };
    store.create_collection(&col).await.unwrap();
    let put = |account, key: &str, size: u64, content_type: &str, at: i64| {
        let (path, name) = key.rsplit_once('/').unwrap_or(("", key));
        let mut file = common::file(path, name, &format!("blob-{account}-{key}"));
        file.size = size;
        file.content_type = content_type.into();
        common::write(account, vec![file], at)
    };
    let mut ids = std::collections::HashMap::new();
    for (account, key, size, content_type, at) in [
        (C, "s/alpha.png", 10, "image/png", 101),
        (C, "s/beta.jpg", 30, "image/jpeg", 102),
        (C, "s/sub/gamma.pdf", 20, "application/pdf", 103),
        (C, "s2/delta.png", 5, "image/png", 104),
        (C, "sx/epsilon.txt", 1, "text/plain", 105),
        (B, "s/alpha.png", 10, "image/png", 106),
    ] {
        let asset = store.write_assets(&put(account, key, size, content_type, at)).await.unwrap().remove(0);
        ids.insert(format!("{account}/{}", asset.name), asset.id);
    }
    let id = |name: &str| ids[&format!("3/{name}")].clone();
    let patch = |p: AssetPatch| p;
    let strings = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    for (name, p) in [
        (
            "alpha.png",
            patch(AssetPatch {
                tags: strings(&["Hero", "spring"]),
                skus: strings(&["S1"]),
                metadata: Some(md(&[("team", "Red")])),
                collection_ids: Some(vec![col.id.clone()]),
                batch_id: Some(Some("b1".into())),
                approved: Some(true),
                ..AssetPatch::default()
            }),
        ),
        (
            "beta.jpg",
            AssetPatch {
                tags: strings(&["hero"]),
                metadata: Some(md(&[("team", "blue")])),
                favourite: Some((UserId("usr_1".into()), true)),
                license_expires_at: Some(Some(50)),
                ..AssetPatch::default()
            },
        ),
        (
            "gamma.pdf",
            AssetPatch {
                tags: strings(&["autumn"]),
                skus: strings(&["S1"]),
                sensitive: Some(true),
                license_expires_at: Some(Some(1_000_000)),
                ..AssetPatch::default()
            },
        ),
        ("delta.png", AssetPatch { archived: Some(true), ..AssetPatch::default() }),
    ] {
        store.update_asset(C, &id(name), &p, 107).await.unwrap().unwrap();
    }
    let base = AssetQuery::new(Scope::Accounts(vec![C]), 100);
    let names = |assets: Vec<assetlib_core::model::Asset>| assets.into_iter().map(|a| a.name).collect::<Vec<_>>();
    let find = |q: AssetQuery| async move { names(store.search_assets(&q, 1_000).await.unwrap()) };
    let newest_first = ["epsilon.txt", "gamma.pdf", "beta.jpg", "alpha.png"];
    assert_eq!(find(base.clone()).await, newest_first, "archived assets are hidden by default");
    assert_eq!(find(AssetQuery { archived: Some(true), ..base.clone() }).await, ["delta.png"]);
    assert_eq!(find(AssetQuery { archived: Some(false), ..base.clone() }).await, newest_first);

    let cases: Vec<(AssetQuery, Vec<&str>)> = vec![
        (AssetQuery { q: Some("HE".into()), ..base.clone() }, vec!["beta.jpg", "alpha.png"]),
        (AssetQuery { q: Some("gam".into()), ..base.clone() }, vec!["gamma.pdf"]),
        (AssetQuery { q: Some("Ep".into()), ..base.clone() }, vec!["epsilon.txt"]),
        (AssetQuery { q: Some("spr".into()), ..base.clone() }, vec!["alpha.png"]),
        (AssetQuery { q: Some("zzz".into()), ..base.clone() }, vec![]),
        (
            AssetQuery { ids: vec![id("alpha.png"), id("delta.png"), ids["2/alpha.png"].clone()], ..base.clone() },
            vec!["alpha.png"],
        ),
        (AssetQuery { path: Some("s".into()), ..base.clone() }, vec!["beta.jpg", "alpha.png"]),
        (AssetQuery { path_prefix: Some("s".into()), ..base.clone() }, vec!["gamma.pdf", "beta.jpg", "alpha.png"]),
        (AssetQuery { path_prefix: Some("s/sub".into()), ..base.clone() }, vec!["gamma.pdf"]),
        (AssetQuery { path_prefix: Some(String::new()), ..base.clone() }, newest_first.to_vec()),
        (AssetQuery { tags: vec!["HERO".into()], ..base.clone() }, vec!["beta.jpg", "alpha.png"]),
        (AssetQuery { tags: vec!["hero".into(), "spring".into()], ..base.clone() }, vec!["alpha.png"]),
        (AssetQuery { tags: vec!["he".into()], ..base.clone() }, vec![]),
        (AssetQuery { sku: Some("S1".into()), ..base.clone() }, vec!["gamma.pdf", "alpha.png"]),
        (AssetQuery { sku: Some("s1".into()), ..base.clone() }, vec![]),
        (AssetQuery { collection: Some(col.id.clone()), ..base.clone() }, vec!["alpha.png"]),
        (AssetQuery { favourite_of: Some(UserId("usr_1".into())), ..base.clone() }, vec!["beta.jpg"]),
        (AssetQuery { metadata: vec![("team".into(), "RED".into())], ..base.clone() }, vec!["alpha.png"]),
        (AssetQuery { metadata: vec![("Team".into(), "red".into())], ..base.clone() }, vec![]),
        (AssetQuery { batch_id: Some("b1".into()), ..base.clone() }, vec!["alpha.png"]),
        (AssetQuery { approved: Some(true), ..base.clone() }, vec!["alpha.png"]),
        (AssetQuery { approved: Some(false), ..base.clone() }, vec!["epsilon.txt", "gamma.pdf", "beta.jpg"]),
        (AssetQuery { sensitive: Some(true), ..base.clone() }, vec!["gamma.pdf"]),
        (AssetQuery { license_expired: Some(true), ..base.clone() }, vec!["beta.jpg"]),
        (AssetQuery { license_expired: Some(false), ..base.clone() }, vec!["epsilon.txt", "gamma.pdf", "alpha.png"]),
        (AssetQuery { created_min: Some(102), created_max: Some(103), ..base.clone() }, vec!["gamma.pdf", "beta.jpg"]),
        (
            AssetQuery { content_type: ContentTypeFilter::parse("image/*"), ..base.clone() },
            vec!["beta.jpg", "alpha.png"],
        ),
        (AssetQuery { content_type: ContentTypeFilter::parse("image/png"), ..base.clone() }, vec!["alpha.png"]),
        (
            AssetQuery {
                path_prefix: Some("s".into()),
                content_type: ContentTypeFilter::parse("image/*"),
                tags: vec!["hero".into()],
                ..base.clone()
            },
            vec!["beta.jpg", "alpha.png"],
        ),
        (AssetQuery { scope: Scope::Accounts(vec![B]), ..base.clone() }, vec!["alpha.png"]),
    ];
    for (q, want) in cases {
        assert_eq!(find(q.clone()).await, want, "{q:?}");
    }
    let everywhere = find(AssetQuery { scope: Scope::All, ..base.clone() }).await;
    assert!(everywhere.len() > newest_first.len() && everywhere[0] == "alpha.png", "{everywhere:?}");

    // Every sort, walked a page of two at a time by cursor and by offset, gives the same order
    // as one page; ties are broken by id.
    for (sort, want) in [
        ("name", vec!["alpha.png", "beta.jpg", "epsilon.txt", "gamma.pdf"]),
        ("-name", vec!["gamma.pdf", "epsilon.txt", "beta.jpg", "alpha.png"]),
        ("size", vec!["epsilon.txt", "alpha.png", "gamma.pdf", "beta.jpg"]),
        ("-size", vec!["beta.jpg", "gamma.pdf", "alpha.png", "epsilon.txt"]),
        ("createdAt", vec!["alpha.png", "beta.jpg", "gamma.pdf", "epsilon.txt"]),
        ("-lastModified", newest_first.to_vec()),
    ] {
        let sort = Sort::parse(sort).unwrap();
        let q = AssetQuery { sort, ..base.clone() };
        assert_eq!(find(q.clone()).await, want, "{sort:?}");
        let mut walked = vec![];
        let mut after = None;
        loop {
            let paged = AssetQuery { paging: Paging::After(after), limit: 2, ..q.clone() };
            let page = store.search_assets(&paged, 1_000).await.unwrap();
            let Some(last) = page.last() else { break };
            after = Some(SearchCursor::after(last, sort));
            walked.extend(names(page));
        }
        assert_eq!(walked, want, "{sort:?} by cursor");
        let skipped = find(AssetQuery { paging: Paging::Skip(1), limit: 2, ..q.clone() }).await;
        assert_eq!(skipped, want[1..3], "{sort:?} by offset");
    }
    // Equal sort values: the id decides, in the sort's direction, and a cursor resumes between them.
    store.write_assets(&put(C, "t/same1.png", 7, "image/png", 200)).await.unwrap();
    store.write_assets(&put(C, "t/same2.png", 7, "image/png", 200)).await.unwrap();
    let q = AssetQuery { path: Some("t".into()), ..base.clone() };
    let both = store.search_assets(&q, 1_000).await.unwrap();
    assert!(both[0].id > both[1].id, "newest first, then the greater id");
    let rest = AssetQuery { paging: Paging::After(Some(SearchCursor::after(&both[0], q.sort))), ..q.clone() };
    assert_eq!(store.search_assets(&rest, 1_000).await.unwrap(), both[1..]);
    let in_t = AssetQuery { path_prefix: Some("t".into()), ..base.clone() };
    assert_eq!(store.search_assets(&in_t, 1_000).await.unwrap(), both, "a folder walk breaks ties by id too");
    let rest = AssetQuery { paging: Paging::After(Some(SearchCursor::after(&both[0], q.sort))), ..in_t.clone() };
    assert_eq!(store.search_assets(&rest, 1_000).await.unwrap(), both[1..]);
    store.delete_folder(C, "t", 201).await.unwrap();
    assert_eq!(find(in_t.clone()).await, Vec::<String>::new(), "a deleted folder's assets are gone from its prefix");

    // One tag, or one metadata value, walks its own index in date order (0012): the same
    // order as the folder's, ties broken by id, by cursor and by offset, either way; archived
    // assets hidden unless asked for.
    for (i, name) in ["d1.png", "d2.png", "d3.png", "d4.png", "d5.png"].into_iter().enumerate() {
        let a = store.write_assets(&put(C, &format!("dated/{name}"), 1, "image/png", 300 + i as i64 / 2)).await;
        let a = a.unwrap().remove(0);
        let patch =
            AssetPatch { tags: Some(vec!["Dated".into()]), archived: Some(name == "d5.png"), ..AssetPatch::default() };
        store.update_asset(C, &a.id, &patch, 310).await.unwrap().unwrap();
        let metadata = [("Kind".to_owned(), "Banner".to_owned())].into_iter().collect();
        store.set_asset_metadata(C, "dated", name, &metadata).await.unwrap().unwrap();
    }
    let in_dated = AssetQuery { path: Some("dated".into()), ..base.clone() };
    let by_tag = AssetQuery { tags: vec!["dated".into()], ..base.clone() };
    let by_value = AssetQuery { metadata: vec![("Kind".into(), "BANNER".into())], ..base.clone() };
    for descending in [true, false] {
        let sort = Sort { descending, ..base.sort };
        let reference = store.search_assets(&AssetQuery { sort, ..in_dated.clone() }, 1_000).await.unwrap();
        assert_eq!(reference.len(), 4);
        for q in [&by_tag, &by_value] {
            let q = AssetQuery { sort, ..q.clone() };
            assert_eq!(store.search_assets(&q, 1_000).await.unwrap(), reference, "{q:?}");
            let mut walked = vec![];
            let mut after = None;
            loop {
                let paged = AssetQuery { paging: Paging::After(after), limit: 3, ..q.clone() };
                let page = store.search_assets(&paged, 1_000).await.unwrap();
                let Some(last) = page.last() else { break };
                after = Some(SearchCursor::after(last, sort));
                walked.extend(page);
            }
            assert_eq!(walked, reference, "{q:?} by cursor");
            let skip = AssetQuery { paging: Paging::Skip(1), limit: 2, ..q.clone() };
            assert_eq!(store.search_assets(&skip, 1_000).await.unwrap(), reference[1..3], "{q:?} by offset");
            let archived = AssetQuery { archived: Some(true), ..q.clone() };
            assert_eq!(names(store.search_assets(&archived, 1_000).await.unwrap()), ["d5.png"]);
        }
    }
    store.delete_folder(C, "dated", 320).await.unwrap();
    assert_eq!(find(by_tag.clone()).await, Vec::<String>::new(), "deleted assets leave the tag's index");
    search_by_folder_after_writes(store, &base).await;
    search_conjunctions(store, &base).await;
    search_text_pages(store, &base).await;
    drain_jobs(store, 10_000).await;
}

/// `q` page by page, by cursor and by offset, in two orders: names that start with the text,
/// tags that do, and an asset that has both (found once), each side longer than a page.
async fn search_text_pages(store: &dyn MetaStore, base: &AssetQuery) {
    let account = match &base.scope {
        Scope::Accounts(a) => a[0],
        Scope::All => unreachable!("the search cases name their account"),
    };
    for i in 0..9 {
        let file = common::file("txt", &format!("pic-{i:02}.png"), &format!("blob-txt-pic-{i}"));
        store.write_assets(&common::write(account, vec![file], 500 + i)).await.unwrap();
        let file = common::file("txt", &format!("other-{i:02}.png"), &format!("blob-txt-other-{i}"));
        store.write_assets(&common::write(account, vec![file], 520 + i)).await.unwrap();
    }
    for (name, tag) in
        [("other-01.png", "Picnic"), ("other-04.png", "picture"), ("other-07.png", "PICS"), ("pic-03.png", "pickle")]
    {
        let asset = store.get_asset(account, "txt", name).await.unwrap().unwrap();
        let patch = AssetPatch { tags: Some(vec![tag.into()]), ..AssetPatch::default() };
        store.update_asset(account, &asset.id, &patch, 540).await.unwrap().unwrap();
    }
    let q = AssetQuery { q: Some("PIC".into()), ..base.clone() };
    for sort in ["-createdAt", "name", "-name"] {
        let q = AssetQuery { sort: Sort::parse(sort).unwrap(), ..q.clone() };
        let all = store.search_assets(&q, 1_000).await.unwrap();
        let mut names: Vec<&str> = all.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names.len(), 12, "{sort}: {names:?}");
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 12, "each asset once");
        let mut walked = vec![];
        let mut after = None;
        loop {
            let paged = AssetQuery { paging: Paging::After(after), limit: 5, ..q.clone() };
            let page = store.search_assets(&paged, 1_000).await.unwrap();
            let Some(last) = page.last() else { break };
            after = Some(SearchCursor::after(last, q.sort));
            walked.extend(page);
        }
        assert_eq!(walked, all, "{sort} by cursor");
        for skip in 0..14 {
            let paged = AssetQuery { paging: Paging::Skip(skip), limit: 5, ..q.clone() };
            let from = usize::try_from(skip).unwrap().min(all.len());
            let to = (from + 5).min(all.len());
            assert_eq!(store.search_assets(&paged, 1_000).await.unwrap(), all[from..to], "{sort} from {skip}");
        }
    }
}

/// Tags, metadata values and a path prefix together: on PostgreSQL the terms index answers
/// them when they meet on fewer assets than each alone (0013; the sort by name keeps the folder
/// walk out of the way), elsewhere the side tables. Tags and values fold; a key holding `=`
/// stays apart from a value that does; a sibling folder (`cj/ab` for `cj/a`) stays out;
/// archived assets only when asked; by cursor.
async fn search_conjunctions(store: &dyn MetaStore, base: &AssetQuery) {
    let account = match &base.scope {
        Scope::Accounts(a) => a[0],
        Scope::All => unreachable!("the search cases name their account"),
    };
    let by_name = Sort::parse("name").unwrap();
    let meta = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    for (i, (path, name, tag, metadata, archived)) in [
        ("cj/a", "one.png", "Hot", meta(&[("colour", "Red"), ("a=b", "c")]), false),
        ("cj/a/b", "two.png", "hot", meta(&[("colour", "red")]), false),
        ("cj/ab", "three.png", "HOT", meta(&[("colour", "Red")]), false),
        ("cj/a", "four.png", "Cold", meta(&[("colour", "Red"), ("a=b", "c"), ("a", "b=c")]), false),
        ("cj/a", "five.png", "Hot", meta(&[("a", "b=c")]), false),
        ("cj/a", "six.png", "Hot", meta(&[("colour", "red")]), true),
        ("elsewhere", "seven.png", "Hot", meta(&[("colour", "Red")]), false),
    ]
    .into_iter()
    .enumerate()
    {
        let file = common::file(path, name, &format!("blob-cj-{path}-{name}"));
        let asset = store.write_assets(&common::write(account, vec![file], 400 + i as i64)).await.unwrap().remove(0);
        let patch = AssetPatch {
            tags: Some(vec![tag.into(), "Other".into()]),
            archived: Some(archived),
            ..AssetPatch::default()
        };
        store.update_asset(account, &asset.id, &patch, 420).await.unwrap().unwrap();
        store.set_asset_metadata(account, path, name, &metadata).await.unwrap().unwrap();
    }
    let find = |q: AssetQuery| async move {
        store.search_assets(&q, 1_000).await.unwrap().into_iter().map(|a| a.name).collect::<Vec<_>>()
    };
    let q = |tags: &[&str], metadata: &[(&str, &str)], prefix: Option<&str>| AssetQuery {
        tags: tags.iter().map(|t| t.to_string()).collect(),
        metadata: metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        path_prefix: prefix.map(str::to_owned),
        sort: by_name,
        ..base.clone()
    };
    let hot_red_in_a = q(&["HOT"], &[("colour", "RED")], Some("cj/a"));
    assert_eq!(find(hot_red_in_a.clone()).await, ["one.png", "two.png"]);
    assert_eq!(find(q(&["hot"], &[("colour", "red")], Some("cj"))).await, ["one.png", "three.png", "two.png"]);
    assert_eq!(
        find(q(&["hot", "other"], &[("colour", "red")], None)).await,
        ["one.png", "seven.png", "three.png", "two.png"]
    );
    assert_eq!(find(q(&["hot"], &[("a=b", "C")], None)).await, ["one.png"]);
    assert_eq!(find(q(&["hot"], &[("a", "B=C")], None)).await, ["five.png"]);
    assert_eq!(find(q(&["hot"], &[("a", "b")], None)).await, Vec::<String>::new());
    assert_eq!(find(q(&["cold"], &[("colour", "red")], Some("cj/a/b"))).await, Vec::<String>::new());
    let exact = AssetQuery { path: Some("cj/a".into()), ..hot_red_in_a.clone() };
    assert_eq!(find(exact).await, ["one.png"], "an exact folder beside the terms");
    let archived = AssetQuery { archived: Some(true), ..hot_red_in_a.clone() };
    assert_eq!(find(archived).await, ["six.png"]);
    // Newest first, where a folder walk competes.
    let newest = AssetQuery { sort: base.sort, ..hot_red_in_a.clone() };
    assert_eq!(find(newest).await, ["two.png", "one.png"]);
    let first = AssetQuery { limit: 1, ..hot_red_in_a.clone() };
    let page = store.search_assets(&first, 1_000).await.unwrap();
    let rest = AssetQuery { paging: Paging::After(Some(SearchCursor::after(&page[0], by_name))), ..first };
    assert_eq!(find(rest).await, ["two.png"], "by cursor");
    for folder in ["cj", "elsewhere"] {
        store.delete_folder(account, folder, 430).await.unwrap();
    }
    assert_eq!(find(q(&["hot"], &[("colour", "red")], Some("cj"))).await, Vec::<String>::new());
}

/// A path prefix (walked through the folder rows of each asset, migration 0009) follows every
/// write that gives an asset a path or takes it away: upload, replacement, copy, move by key
/// and by id, delete, folder delete; in both directions, by cursor and by offset, with other
/// filters and `q` beside it.
async fn search_by_folder_after_writes(store: &dyn MetaStore, base: &AssetQuery) {
    let account = match &base.scope {
        Scope::Accounts(a) => a[0],
        Scope::All => unreachable!("the search cases name their account"),
    };
    let names = |assets: Vec<assetlib_core::model::Asset>| assets.into_iter().map(|a| a.name).collect::<Vec<_>>();
    let find = |prefix: &str, q: AssetQuery| {
        let q = AssetQuery { path_prefix: Some(prefix.to_owned()), ..q };
        async move { names(store.search_assets(&q, 1_000).await.unwrap()) }
    };
    let put = |path: &str, name: &str, at: i64| {
        common::write(account, vec![common::file(path, name, &format!("blob-f-{path}-{name}"))], at)
    };
    for (path, name, at) in [("f/a", "one.png", 301), ("f/a/b", "two.png", 302), ("f/ab", "three.png", 303)] {
        store.write_assets(&put(path, name, at)).await.unwrap();
    }
    let plain = base.clone();
    assert_eq!(find("f", plain.clone()).await, ["three.png", "two.png", "one.png"]);
    assert_eq!(find("f/a", plain.clone()).await, ["two.png", "one.png"], "f/ab is not below f/a");
    assert_eq!(find("f/a/b", plain.clone()).await, ["two.png"]);
    assert_eq!(find("f/a/", plain.clone()).await, Vec::<String>::new(), "a prefix names a folder, not a string");
    let oldest = AssetQuery { sort: Sort::parse("createdAt").unwrap(), ..plain.clone() };
    assert_eq!(find("f", oldest.clone()).await, ["one.png", "two.png", "three.png"]);
    // Page by page, both ways, by cursor and by offset.
    for q in [plain.clone(), oldest.clone()] {
        let all = find("f", q.clone()).await;
        let mut walked = vec![];
        let mut after = None;
        loop {
            let paged =
                AssetQuery { path_prefix: Some("f".into()), paging: Paging::After(after), limit: 1, ..q.clone() };
            let page = store.search_assets(&paged, 1_000).await.unwrap();
            let Some(last) = page.last() else { break };
            after = Some(SearchCursor::after(last, q.sort));
            walked.extend(names(page));
        }
        assert_eq!(walked, all, "{:?} by cursor", q.sort);
        assert_eq!(find("f", AssetQuery { paging: Paging::Skip(1), limit: 1, ..q.clone() }).await, all[1..2]);
    }
    // With other filters beside it, and `q` (gathered by name or walked in the folder).
    let tagged = AssetPatch { tags: Some(vec!["Blue".into()]), ..AssetPatch::default() };
    let two = store.get_asset(account, "f/a/b", "two.png").await.unwrap().unwrap();
    store.update_asset(account, &two.id, &tagged, 304).await.unwrap().unwrap();
    assert_eq!(find("f", AssetQuery { tags: vec!["blue".into()], ..plain.clone() }).await, ["two.png"]);
    assert_eq!(find("f", AssetQuery { q: Some("BLU".into()), ..plain.clone() }).await, ["two.png"]);
    assert_eq!(find("f", AssetQuery { q: Some("o".into()), ..plain.clone() }).await, ["one.png"]);
    assert_eq!(find("f/ab", AssetQuery { q: Some("t".into()), ..plain.clone() }).await, ["three.png"]);
    // A move by id: out of one subtree, into another, with its creation time.
    let moved = store.move_asset_by_id(account, &two.id, ("g/h", "two.png"), 305).await.unwrap().unwrap();
    assert_eq!(moved.created_at, two.created_at);
    assert_eq!(find("f", plain.clone()).await, ["three.png", "one.png"]);
    assert_eq!(find("f/a", plain.clone()).await, ["one.png"]);
    assert_eq!(find("g", plain.clone()).await, ["two.png"]);
    assert_eq!(find("g/h", AssetQuery { tags: vec!["blue".into()], ..plain.clone() }).await, ["two.png"]);
    // A move by key (a copy that removes its source), a copy, a replacement.
    let from = ("f/ab", "three.png");
    store
        .copy_asset(account, from, ("g", "three.png"), false, true, &AssetId("unused".into()), None, 306)
        .await
        .unwrap();
    assert_eq!(find("f", plain.clone()).await, ["one.png"]);
    assert_eq!(find("g", plain.clone()).await, ["three.png", "two.png"], "a move keeps the creation time");
    let copy_id = AssetId("copy-of-one".into());
    store.copy_asset(account, ("f/a", "one.png"), ("g/c", "one.png"), false, false, &copy_id, None, 307).await.unwrap();
    assert_eq!(find("g", plain.clone()).await, ["one.png", "three.png", "two.png"], "a copy is new");
    assert_eq!(find("f", plain.clone()).await, ["one.png"]);
    let mut replace = put("g/c", "one.png", 308);
    replace.overwrite = true;
    store.write_assets(&replace).await.unwrap();
    assert_eq!(find("g/c", plain.clone()).await, ["one.png"]);
    // Deletes: by key, by id, and a folder with what is below it.
    store.delete_asset(account, "g/c", "one.png", 309).await.unwrap();
    assert_eq!(find("g", plain.clone()).await, ["three.png", "two.png"]);
    store.delete_asset_by_id(account, &two.id, 310).await.unwrap();
    assert_eq!(find("g", plain.clone()).await, ["three.png"]);
    store.delete_folder(account, "g", 311).await.unwrap();
    store.delete_folder(account, "f", 311).await.unwrap();
    assert_eq!(find("f", plain.clone()).await, Vec::<String>::new());
    assert_eq!(find("g", plain).await, Vec::<String>::new());
}

async fn folder_store(store: &dyn MetaStore) {
    drain_jobs(store, 100).await;
    assert!(store.delete_asset(A, "p/a", "x.png", 30).await.unwrap());
    assert!(!store.delete_asset(A, "p/a", "x.png", 30).await.unwrap(), "already gone");
    assert_eq!(drain_jobs(store, 100).await, [JobKind::DeleteBlob { blob: BlobKey("blob-ax".into()) }]);
    assert_eq!(names(&store.list_folder(A, "p", None, 100).await.unwrap()), ["b.png", "c/", "c", "d.png"]);

    // A sibling whose name extends the folder's is not part of its subtree.
    store.write_assets(&common::write(A, vec![common::file("p/cc", "s.png", "blob-s")], 31)).await.unwrap();
    assert_eq!(store.delete_folder(A, "p/c", 32).await.unwrap(), 1);
    assert_eq!(names(&store.list_folder(A, "p", None, 100).await.unwrap()), ["b.png", "c", "cc/", "d.png"]);
    assert!(store.get_asset(A, "p/cc", "s.png").await.unwrap().is_some());
    assert!(store.get_asset(A, "p", "c").await.unwrap().is_some(), "a file named like the folder stays");
    assert_eq!(drain_jobs(store, 100).await, [JobKind::DeleteBlob { blob: BlobKey("blob-cx".into()) }]);

    // Deleting the last things under `p` removes `p` too.
    for name in ["b.png", "c", "d.png"] {
        store.delete_asset(A, "p", name, 33).await.unwrap();
    }
    store.delete_asset(A, "p/cc", "s.png", 33).await.unwrap();
    assert!(store.list_folder(A, "", None, 100).await.unwrap().is_empty());
    assert_eq!(store.delete_folder(A, "nothing/here", 34).await.unwrap(), 0);
    drain_jobs(store, 100).await;

    // An explicit folder persists while empty; its implicit ancestors with it.
    assert!(store.create_folder(A, "e/f", 35).await.unwrap());
    assert!(!store.create_folder(A, "e/f", 35).await.unwrap(), "exists");
    assert!(!store.create_folder(A, "e", 35).await.unwrap(), "an implicit folder exists too");
    store.write_assets(&common::write(A, vec![common::file("e/f/g", "x.png", "blob-e")], 36)).await.unwrap();
    store.delete_asset(A, "e/f/g", "x.png", 37).await.unwrap();
    assert_eq!(names(&store.list_folder(A, "", None, 100).await.unwrap()), ["e/"]);
    assert_eq!(names(&store.list_folder(A, "e", None, 100).await.unwrap()), ["f/"]);
    assert!(store.list_folder(A, "e/f", None, 100).await.unwrap().is_empty());
    // Deleting it explicitly removes it, and the ancestors it alone kept.
    store.delete_folder(A, "e/f", 38).await.unwrap();
    assert!(store.list_folder(A, "", None, 100).await.unwrap().is_empty());
    drain_jobs(store, 100).await;

    // Strict deletes and checks: child folders in name order after a name; only what exists.
    assert!(store.create_folder(A, "s/one", 60).await.unwrap());
    assert!(store.create_folder(A, "s/two", 60).await.unwrap());
    store.write_assets(&common::write(A, vec![common::file("s/three", "x.png", "blob-s3")], 60)).await.unwrap();
    assert_eq!(store.list_subfolders(A, "s", "", 10).await.unwrap(), ["one", "three", "two"]);
    assert_eq!(store.list_subfolders(A, "s", "one", 1).await.unwrap(), ["three"]);
    assert!(store.list_subfolders(B, "s", "", 10).await.unwrap().is_empty());
    assert!(store.folder_exists(A, "s/one").await.unwrap());
    assert!(store.folder_exists(A, "s/three").await.unwrap(), "implicit folders exist too");
    assert!(!store.folder_exists(A, "s/none").await.unwrap());
    assert!(!store.folder_exists(B, "s/one").await.unwrap(), "accounts do not share folders");
    assert_eq!(store.delete_empty_folder(A, "s/three").await.unwrap(), FolderDelete::NotEmpty);
    assert_eq!(store.delete_empty_folder(A, "s").await.unwrap(), FolderDelete::NotEmpty, "it holds folders");
    assert_eq!(store.delete_empty_folder(A, "s/one").await.unwrap(), FolderDelete::Deleted);
    assert!(!store.folder_exists(A, "s/one").await.unwrap());
    assert_eq!(store.delete_empty_folder(A, "s/one").await.unwrap(), FolderDelete::Missing);
    assert_eq!(store.delete_empty_folder(B, "s/two").await.unwrap(), FolderDelete::Missing);
    assert!(store.get_asset(A, "s/three", "x.png").await.unwrap().is_some(), "a refused delete changed nothing");
    store.delete_folder(A, "s", 61).await.unwrap();
    drain_jobs(store, 100).await;
}

async fn collection_store(store: &dyn MetaStore) {
    let new = |id: &str, account, name: &str| Collection {
        id: CollectionId(id.into()),
        account,
        name: name.into(),
        description: format!("about {name}"),
        created_at: 70,
        last_modified: 70,
        created_by: Some(UserId("usr_1".into())),
    };
    let (c1, c2, other) = (new("col-1", A, "One"), new("col-2", A, "Two"), new("col-3", B, "Theirs"));
    for c in [&c1, &c2, &other] {
        store.create_collection(c).await.unwrap();
    }
    assert_eq!(store.create_collection(&c1).await.unwrap_err().kind, ErrorKind::Conflict);
    assert_eq!(store.get_collection(A, &c1.id).await.unwrap().as_ref(), Some(&c1));
    assert!(store.get_collection(A, &other.id).await.unwrap().is_none(), "another account's collection");
    // In id order, after a cursor; only the account's own (col-k is the asset section's).
    let ids = |cs: Vec<Collection>| cs.into_iter().map(|c| c.id.0).collect::<Vec<_>>();
    assert_eq!(ids(store.list_collections(A, None, 10).await.unwrap()), ["col-1", "col-2", "col-k"]);
    assert_eq!(ids(store.list_collections(A, Some(&c1.id), 1).await.unwrap()), ["col-2"]);
    assert_eq!(ids(store.list_collections(B, None, 10).await.unwrap()), ["col-3"]);
    // Across accounts, by skip; and by ids in any account.
    assert_eq!(ids(store.collections_of(Some(&[A, B]), 0, 10).await.unwrap()), ["col-1", "col-2", "col-3", "col-k"]);
    assert_eq!(ids(store.collections_of(Some(&[A, B]), 1, 2).await.unwrap()), ["col-2", "col-3"]);
    assert_eq!(ids(store.collections_of(Some(&[B]), 0, 10).await.unwrap()), ["col-3"]);
    assert!(store.collections_of(Some(&[]), 0, 10).await.unwrap().is_empty());
    assert!(store.collections_of(Some(&[A]), 10, 10).await.unwrap().is_empty());
    assert_eq!(ids(store.collections_of(None, 2, 2).await.unwrap()), ["col-3", "col-k"]);
    let wanted = [other.id.clone(), c1.id.clone(), CollectionId("col-none".into())];
    assert_eq!(ids(store.collections_by_ids(&wanted).await.unwrap()), ["col-1", "col-3"]);
    assert!(store.collections_by_ids(&[]).await.unwrap().is_empty());
    let renamed = store.update_collection(A, &c1.id, Some("Uno"), None, 71).await.unwrap().unwrap();
    assert_eq!((renamed.name.as_str(), renamed.description.as_str(), renamed.last_modified), ("Uno", "about One", 71));
    let described = store.update_collection(A, &c1.id, None, Some(""), 72).await.unwrap().unwrap();
    assert_eq!((described.name.as_str(), described.description.as_str()), ("Uno", ""));
    assert!(store.update_collection(A, &other.id, Some("x"), None, 72).await.unwrap().is_none());

    // Deleting a collection takes it out of its assets, and nothing else.
    let a = store.write_assets(&common::write(A, vec![common::file("c", "in.png", "blob-c1")], 73)).await.unwrap();
    let patch = AssetPatch { collection_ids: Some(vec![c1.id.clone(), c2.id.clone()]), ..AssetPatch::default() };
    store.update_asset(A, &a[0].id, &patch, 74).await.unwrap().unwrap();
    let sizes = store.collection_sizes(A, &[c1.id.clone(), c2.id.clone(), other.id.clone()]).await.unwrap();
    assert_eq!(sizes, [(c1.id.clone(), 1), (c2.id.clone(), 1)].into(), "another account's is absent");
    assert!(
        store.collection_sizes(B, std::slice::from_ref(&c1.id)).await.unwrap().is_empty(),
        "counted in its own account only"
    );
    assert!(store.collection_sizes(A, &[]).await.unwrap().is_empty());
    // A patch naming another account's collection changes nothing.
    let theirs = AssetPatch { collection_ids: Some(vec![c1.id.clone(), other.id.clone()]), ..AssetPatch::default() };
    let e = store.update_asset(A, &a[0].id, &theirs, 74).await.unwrap_err();
    assert_eq!((e.kind, e.param.as_deref()), (ErrorKind::Invalid, Some("collectionIds")));
    assert_eq!(
        store.get_asset_by_id(&a[0].id).await.unwrap().unwrap().attributes.collection_ids,
        [c1.id.clone(), c2.id.clone()]
    );
    assert!(!store.delete_collection(B, &c1.id).await.unwrap(), "another account's collection");
    assert!(store.delete_collection(A, &c1.id).await.unwrap());
    assert!(!store.delete_collection(A, &c1.id).await.unwrap(), "already gone");
    let after = store.get_asset_by_id(&a[0].id).await.unwrap().unwrap();
    assert_eq!(after.attributes.collection_ids, std::slice::from_ref(&c2.id));
    assert!(store.collection_sizes(A, std::slice::from_ref(&c1.id)).await.unwrap().is_empty());
    assert!(store.get_collection(A, &c1.id).await.unwrap().is_none());
    assert!(store.get_collection(B, &other.id).await.unwrap().is_some());
}

/// Sessions stand for the key they were made for until they end, are deleted, or the key is
/// (after `account_store`: `key_1` of account B exists, `secret`).
async fn session_store(store: &dyn MetaStore) {
    let key = hash_api_key("secret");
    store.create_session("s1", &key, 10, 100).await.unwrap();
    store.create_session("s2", &key, 10, 50).await.unwrap();
    let missing = store.create_session("s3", &hash_api_key("no such key"), 10, 100).await.unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NotFound, "no session for a key that does not exist");
    assert_eq!(store.session_key("s3", 20).await.unwrap(), None);
    assert_eq!(store.session_key("s1", 20).await.unwrap(), Some((key.clone(), 100)));
    assert_eq!(store.session_key("s2", 49).await.unwrap(), Some((key.clone(), 50)));
    assert_eq!(store.session_key("s2", 50).await.unwrap(), None, "ended at its time");
    assert!(store.create_session("s1", &key, 10, 100).await.is_err(), "a hash is taken once");
    // Sweeping removes the ended ones only.
    assert_eq!(store.sweep_sessions(60).await.unwrap(), 1);
    assert_eq!(store.sweep_sessions(60).await.unwrap(), 0);
    assert_eq!(store.session_key("s1", 60).await.unwrap(), Some((key.clone(), 100)));
    // Signing out.
    assert!(store.delete_session("s1").await.unwrap());
    assert!(!store.delete_session("s1").await.unwrap());
    assert_eq!(store.session_key("s1", 60).await.unwrap(), None);
    // Deleting the key ends its sessions.
    store.create_session("s4", &key, 10, 100).await.unwrap();
    assert_eq!(store.delete_api_key(B, "key_1").await.unwrap(), Some(key.clone()));
    assert_eq!(store.session_key("s4", 20).await.unwrap(), None);
    let again = NewApiKey {
        id: "key_1".into(),
        name: "ci".into(),
        user: UserId("usr_1".into()),
        hash: key,
        account: Some(B),
        read_only: true,
        created_at: 1,
    };
    store.create_api_key(&again).await.unwrap();
    assert_eq!(store.session_key("s4", 20).await.unwrap(), None, "a key made again does not bring them back");
}

async fn setting_store(store: &dyn MetaStore) {
    assert_eq!(store.get_setting("signing_key_id").await.unwrap(), None);
    assert_eq!(store.setting_or_insert("signing_key_id", "first").await.unwrap(), "first");
    assert_eq!(store.setting_or_insert("signing_key_id", "second").await.unwrap(), "first", "the first value stays");
    assert_eq!(store.get_setting("signing_key_id").await.unwrap().as_deref(), Some("first"));
    store.set_setting("signing_key_id", "third").await.unwrap();
    assert_eq!(store.get_setting("signing_key_id").await.unwrap().as_deref(), Some("third"));
    assert_eq!(store.get_setting("other").await.unwrap(), None, "names are separate");
}

async fn upload_queue_store(store: &dyn MetaStore) {
    let q = queue("0123456789abcdef0123456789abcdef", A, Some("uploads/1/q.zip"));
    let guard = store
        .enqueue_job(&NewJob { kind: JobKind::DeleteBlob { blob: BlobKey("uploads/1/q.zip".into()) }, run_at: 5_000 })
        .await
        .unwrap();
    let expand =
        NewJob { kind: JobKind::ExpandZip { queue: q.id.clone(), folder: "z".into(), created_by: None }, run_at: 1 };
    store.put_queue(&q, Some(&expand), Some(guard)).await.unwrap();
    assert_eq!(store.get_queue(&q.id).await.unwrap().unwrap(), q);
    assert!(store.blob_referenced(&BlobKey("uploads/1/q.zip".into())).await.unwrap());
    let kinds = drain_jobs(store, 10_000).await;
    assert_eq!(kinds, [expand.kind], "the guard was cancelled with the commit");

    // Finishing: the zip is no longer referenced; assets written with the queue entry are.
    let mut done = q.clone();
    done.status = QueueStatus::Completed;
    done.total_items = 1;
    done.total_processed = 1;
    done.source_blob = None;
    done.errors = vec![assetlib_core::model::ItemError { item: "bad.exe".into(), error: "nope".into() }];
    let mut w = common::write(A, vec![common::file("z", "in.png", "z-blob")], 40);
    w.queue = Some(done.clone());
    store.write_assets(&w).await.unwrap();
    assert_eq!(store.get_queue(&q.id).await.unwrap().unwrap(), done);
    assert!(!store.blob_referenced(&BlobKey("uploads/1/q.zip".into())).await.unwrap());
    assert!(store.blob_referenced(&BlobKey("z-blob".into())).await.unwrap());
    assert!(store.get_queue(&QueueId("ffffffffffffffffffffffffffffffff".into())).await.unwrap().is_none());

    // An upload's commit: the asset, its queue entry and the end of its cleanup guard at once;
    // and a write with a guard but no queue entry cancels it too. Other queued jobs stay. In a
    // new folder, in an existing one, and over an existing asset (engines may take a shorter
    // way for the common case, a new key in an existing folder).
    store
        .enqueue_job(&NewJob { kind: JobKind::DeleteBlob { blob: BlobKey("other".into()) }, run_at: 5_000 })
        .await
        .unwrap();
    let commits = [("up1.png", true), ("up2.png", false), ("up3.png", true), ("up3.png", false), ("up4.png", false)];
    for (i, (name, with_queue)) in commits.into_iter().enumerate() {
        let guard = store
            .enqueue_job(&NewJob { kind: JobKind::DeleteBlob { blob: BlobKey(name.into()) }, run_at: 5_000 })
            .await
            .unwrap();
        let mut w = common::write(A, vec![common::file("up", name, name)], 50 + i as i64);
        w.cancel_job = Some(guard);
        let entry = queue(&format!("{:032x}", i + 7), A, None);
        w.queue = with_queue.then(|| entry.clone());
        let written = store.write_assets(&w).await.unwrap();
        assert_eq!((written[0].name.as_str(), written[0].last_modified), (name, 50 + i as i64));
        assert_eq!(store.get_queue(&entry.id).await.unwrap(), w.queue, "{name}");
    }
    let kinds = drain_jobs(store, 10_000).await;
    assert_eq!(kinds, [JobKind::DeleteBlob { blob: BlobKey("other".into()) }], "every guard was cancelled");
    let listed = store.list_folder(A, "up", None, 10).await.unwrap();
    assert_eq!(names(&listed), ["up1.png", "up2.png", "up3.png", "up4.png"]);

    // A write that fails changes nothing: its guard stays, and so does the asset it met.
    let guard = store
        .enqueue_job(&NewJob { kind: JobKind::DeleteBlob { blob: BlobKey("up5".into()) }, run_at: 5_000 })
        .await
        .unwrap();
    let mut w = common::write(A, vec![common::file("up", "up4.png", "up5")], 60);
    w.cancel_job = Some(guard);
    w.queue = Some(queue(&format!("{:032x}", 99), A, None));
    w.overwrite = false;
    assert_eq!(store.write_assets(&w).await.unwrap_err().kind, ErrorKind::Conflict);
    assert!(store.get_queue(&w.queue.as_ref().unwrap().id).await.unwrap().is_none());
    assert!(!store.blob_referenced(&BlobKey("up5".into())).await.unwrap());
    let kinds = drain_jobs(store, 10_000).await;
    assert_eq!(kinds, [JobKind::DeleteBlob { blob: BlobKey("up5".into()) }], "the guard stayed");
}

async fn job_store(store: &dyn MetaStore) {
    use JobQueue::{Cleanup, Ingest, Render};
    drain_jobs(store, i64::MAX / 2).await;
    let job = |blob: &str, run_at| NewJob { kind: JobKind::DeleteBlob { blob: BlobKey(blob.into()) }, run_at };
    let later = store.enqueue_job(&job("later", 1_000)).await.unwrap();
    let soon = store.enqueue_job(&job("soon", 100)).await.unwrap();
    assert!(store.claim_job(Cleanup, "w1", 50, 60).await.unwrap().is_none(), "nothing due yet");
    assert!(store.claim_job(Ingest, "w1", 500, 600).await.unwrap().is_none(), "another queue's jobs are not taken");
    let first = store.claim_job(Cleanup, "w1", 500, 600).await.unwrap().unwrap();
    assert_eq!((first.id, first.attempts, first.claim), (soon, 1, 1));
    assert!(store.claim_job(Cleanup, "w2", 500, 600).await.unwrap().is_none(), "a leased job is not claimed twice");
    assert!(store.extend_job(first.fence(), 900).await.unwrap());
    assert!(store.claim_job(Cleanup, "w2", 800, 900).await.unwrap().is_none(), "the lease was extended");
    // The lease runs out: another worker takes the job over, and the first one's claim is
    // fenced off: it can neither extend, finish, retry nor fail the job any more.
    let again = store.claim_job(Cleanup, "w2", 950, 2_000).await.unwrap().unwrap();
    assert_eq!((again.id, again.attempts, again.claim), (soon, 2, 2));
    assert!(!store.extend_job(first.fence(), 5_000).await.unwrap());
    assert!(!store.finish_job(first.fence()).await.unwrap());
    assert!(!store.retry_job(first.fence(), 3_000, "stale").await.unwrap());
    assert!(!store.fail_job(first.fence(), "stale").await.unwrap());
    assert!(store.retry_job(again.fence(), 3_000, "transient").await.unwrap());
    assert!(!store.finish_job(again.fence()).await.unwrap(), "a claim ends with its retry");
    let next = store.claim_job(Cleanup, "w2", 1_500, 2_500).await.unwrap().unwrap();
    assert_eq!(next.id, later);
    assert!(store.fail_job(next.fence(), "for good").await.unwrap());
    let retried = store.claim_job(Cleanup, "w3", 3_000, 4_000).await.unwrap().unwrap();
    assert_eq!((retried.id, retried.attempts), (soon, 3));
    // A process that dies leaves its job running; release hands it back at once.
    assert_eq!(store.release_abandoned_jobs("no-such-node").await.unwrap(), 1);
    let released = store.claim_job(Cleanup, "w4", 3_001, 3_500).await.unwrap().unwrap();
    assert_eq!(released.id, soon);
    assert!(!store.finish_job(retried.fence()).await.unwrap(), "the released claim is over");
    assert!(store.finish_job(released.fence()).await.unwrap());
    assert!(
        store.claim_job(Cleanup, "w4", i64::MAX / 2, i64::MAX / 2).await.unwrap().is_none(),
        "failed jobs stay failed"
    );

    // Failed jobs stay with their reason until an operator queues them again.
    let failed = store.failed_jobs(None, 10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!((failed[0].id, failed[0].queue, failed[0].error.as_str()), (later.0, Cleanup, "for good"));
    assert_eq!(failed[0].kind, job("later", 0).kind);
    assert!(store.failed_jobs(Some(later), 10).await.unwrap().is_empty(), "paged after an id");
    assert!(!store.retry_failed_job(soon, 4_000).await.unwrap(), "not a failed job");
    assert!(store.retry_failed_job(later, 4_000).await.unwrap());
    assert!(!store.retry_failed_job(later, 4_000).await.unwrap(), "queued already");
    assert!(store.failed_jobs(None, 10).await.unwrap().is_empty());
    let revived = store.claim_job(Cleanup, "w5", 4_000, 5_000).await.unwrap().unwrap();
    assert_eq!((revived.id, revived.attempts, revived.claim), (later, 1, 2), "attempts start again; claims never");
    assert!(store.finish_job(revived.fence()).await.unwrap());

    // Several at once: one id each, in the order given; the same work once.
    assert!(store.enqueue_jobs(&[]).await.unwrap().is_empty());
    assert_eq!(store.unfinished_jobs().await.unwrap(), 0, "blob deletions are not counted");
    let zip = NewJob {
        kind: JobKind::ExpandZip { queue: QueueId("f".repeat(32)), folder: "z".into(), created_by: None },
        run_at: 10,
    };
    store.enqueue_job(&zip).await.unwrap();
    assert_eq!(store.unfinished_jobs().await.unwrap(), 1);
    assert!(store.claim_job(Cleanup, "w5", 10, 20).await.unwrap().is_none(), "a zip is not cleanup work");
    let claimed = store.claim_job(Ingest, "w5", 10, 20).await.unwrap().unwrap();
    assert_eq!(store.unfinished_jobs().await.unwrap(), 1, "running counts too");
    assert!(store.finish_job(claimed.fence()).await.unwrap());
    assert_eq!(store.unfinished_jobs().await.unwrap(), 0);
    let batch = [job("b1", 10), job("b2", 20), job("b1", 5), job("b3", 10)];
    let ids = store.enqueue_jobs(&batch).await.unwrap();
    assert_eq!(ids.len(), batch.len());
    assert_eq!(ids[0], ids[2], "the same work in one batch is one job");
    assert_eq!(ids.iter().collect::<std::collections::HashSet<_>>().len(), 3);
    assert_eq!(store.enqueue_job(&job("b2", 1)).await.unwrap(), ids[1], "the same work queued again is the same job");
    let mut claimed = std::collections::HashMap::new();
    while let Some(job) = store.claim_job(Cleanup, "w5", 10, 100).await.unwrap() {
        assert!(store.finish_job(job.fence()).await.unwrap());
        claimed.insert(job.id, job.kind);
    }
    assert_eq!(claimed.len(), 3);
    for (id, job) in ids.iter().zip(&batch) {
        assert_eq!(claimed.get(id), Some(&job.kind), "job {id:?}");
    }

    // While a job runs, its work may be queued again (the running one may have read its input
    // already); a retry of the running one then ends it, the queued one doing the work.
    let render = NewJob { kind: JobKind::Render { blob: BlobKey("r1".into()), extension: "png".into() }, run_at: 10 };
    let first = store.enqueue_job(&render).await.unwrap();
    let running = store.claim_job(Render, "w6", 10, 100).await.unwrap().unwrap();
    assert_eq!(running.id, first);
    let second = store.enqueue_job(&render).await.unwrap();
    assert_ne!(second, first);
    assert!(store.retry_job(running.fence(), 50, "transient").await.unwrap());
    let kinds = drain_jobs(store, 1_000).await;
    assert_eq!(kinds, std::slice::from_ref(&render.kind), "one render job left");
    // Released at start-up the same way.
    let first = store.enqueue_job(&render).await.unwrap();
    assert_eq!(store.claim_job(Render, "w7", 10, 100).await.unwrap().unwrap().id, first);
    store.enqueue_job(&render).await.unwrap();
    assert_eq!(store.release_abandoned_jobs("no-such-node").await.unwrap(), 1);
    assert_eq!(drain_jobs(store, 1_000).await, [render.kind], "one render job left");

    // A job's result-committing write carries its claim: a claim taken over since writes
    // nothing; the current one writes.
    let zip = NewJob {
        kind: JobKind::ExpandZip { queue: QueueId("e".repeat(32)), folder: "fenced".into(), created_by: None },
        run_at: 10,
    };
    store.enqueue_job(&zip).await.unwrap();
    let stale = store.claim_job(Ingest, "w8", 10, 20).await.unwrap().unwrap();
    let current = store.claim_job(Ingest, "w9", 30, 1_000).await.unwrap().unwrap();
    let mut w = common::write(A, vec![common::file("fenced", "entry.txt", "fenced-blob")], 40);
    w.fence = Some(stale.fence());
    let refused = store.write_assets(&w).await.unwrap_err();
    assert_eq!((refused.kind, refused.code), (ErrorKind::Conflict, assetlib_core::Code::JobLeaseLost));
    assert!(store.list_folder(A, "fenced", None, 10).await.unwrap().is_empty(), "nothing written");
    w.fence = Some(current.fence());
    assert_eq!(store.write_assets(&w).await.unwrap().len(), 1);
    assert!(store.finish_job(current.fence()).await.unwrap());
    assert!(store.delete_asset(A, "fenced", "entry.txt", 50).await.unwrap());
    drain_jobs(store, i64::MAX / 2).await;
}

async fn rendition_store(store: &dyn MetaStore) {
    use assetlib_core::model::{Rendition, Renditions};
    drain_jobs(store, i64::MAX / 2).await;
    let source = BlobKey("rend-src".into());
    let mut w = common::write(A, vec![common::file("rend", "pic.png", "rend-src")], 70);
    w.overwrite = true;
    let written = store.write_assets(&w).await.unwrap();
    let render = NewJob { kind: JobKind::Render { blob: source.clone(), extension: "png".into() }, run_at: 1 };
    store.enqueue_job(&render).await.unwrap();
    let job = store.claim_job(JobQueue::Render, "r", 10, 1_000).await.unwrap().unwrap();
    let rendition = |version: &str, w: u32| Rendition {
        version: version.into(),
        blob: Rendition::blob_for(&source, version, "jpg"),
        size: 100 + u64::from(w),
        content_type: "image/jpeg".into(),
        extension: "jpg".into(),
        width: w,
        height: w / 2,
    };
    let made = Renditions {
        original: Some((3000, 1500)),
        versions: vec![rendition("thumbnail", 256), rendition("web", 1600)],
    };
    assert!(store.renditions_of(std::slice::from_ref(&source)).await.unwrap().is_empty());
    assert!(store.put_renditions(job.fence(), &source, &made).await.unwrap());
    let found = store.renditions_of(&[source.clone(), BlobKey("none".into())]).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[&source], made);
    assert!(store.rendition_referenced(&made.versions[0].blob).await.unwrap());
    assert!(!store.rendition_referenced(&source).await.unwrap(), "the original row is no rendition's blob");
    // A second write replaces what was recorded.
    let fewer = Renditions { original: None, versions: vec![rendition("thumbnail", 128)] };
    assert!(store.put_renditions(job.fence(), &source, &fewer).await.unwrap());
    assert_eq!(store.renditions_of(std::slice::from_ref(&source)).await.unwrap()[&source], fewer);
    assert!(!store.rendition_referenced(&made.versions[1].blob).await.unwrap());
    // Fenced: a claim taken over since writes nothing.
    let taken = store.claim_job(JobQueue::Render, "r2", 2_000, 3_000).await.unwrap().unwrap();
    assert!(!store.put_renditions(job.fence(), &source, &made).await.unwrap());
    assert_eq!(store.renditions_of(std::slice::from_ref(&source)).await.unwrap()[&source], fewer);
    // Content no asset uses any more gets nothing recorded.
    let orphan = BlobKey("rend-orphan".into());
    assert!(!store.put_renditions(taken.fence(), &orphan, &made).await.unwrap());
    assert!(store.renditions_of(std::slice::from_ref(&orphan)).await.unwrap().is_empty());
    assert!(store.finish_job(taken.fence()).await.unwrap());
    // Deleting forgets them and names their blobs.
    let blobs = store.delete_renditions(&source).await.unwrap();
    assert_eq!(blobs, [fewer.versions[0].blob.clone()]);
    assert!(store.renditions_of(std::slice::from_ref(&source)).await.unwrap().is_empty());
    assert!(store.delete_renditions(&source).await.unwrap().is_empty());
    assert_eq!(written.len(), 1);
    // Left for the transfer checks: one asset's content with both renditions.
    let render = NewJob { kind: JobKind::Render { blob: source.clone(), extension: "png".into() }, run_at: 1 };
    store.enqueue_job(&render).await.unwrap();
    let job = store.claim_job(JobQueue::Render, "r3", 4_000, 5_000).await.unwrap().unwrap();
    assert!(store.put_renditions(job.fence(), &source, &made).await.unwrap());
    assert!(store.finish_job(job.fence()).await.unwrap());
}

/// Every row of `table`, paged two at a time.
async fn export_all(store: &dyn MetaStore, table: Table) -> Vec<Record> {
    let mut all: Vec<Record> = vec![];
    loop {
        let page = store.export(table, all.last(), 2).await.unwrap();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// What `source` exports, `target` (empty, same engine) imports and exports the same; a second
/// import changes nothing.
async fn transfer_store(source: &dyn MetaStore, target: &dyn MetaStore) {
    // Pages are in primary-key order and resume strictly after the record given.
    let first = source.export(Table::Accounts, None, 1).await.unwrap();
    assert!(matches!(first.as_slice(), [Record::Account(a)] if a.id == A));
    let next = source.export(Table::Accounts, first.last(), 10).await.unwrap();
    assert!(matches!(next.as_slice(), [Record::Account(b), ..] if b.id == B));
    for table in Table::ALL {
        let records = export_all(source, table).await;
        assert!(!records.is_empty(), "the suite left {} behind", table.as_str());
        assert_eq!(records.len() as u64, source.count(table).await.unwrap(), "{}", table.as_str());
        for chunk in records.chunks(3) {
            target.import(chunk).await.unwrap();
        }
        target.import(&records).await.unwrap();
        assert_eq!(export_all(target, table).await, records, "{} round trip", table.as_str());
    }
    let assets = export_all(source, Table::Assets).await;
    let ids: Vec<AssetId> =
        assets.iter().filter_map(|r| if let Record::Asset(a) = r { Some(a.id.clone()) } else { None }).collect();
    let blobs = target.asset_blobs(&ids).await.unwrap();
    assert_eq!(blobs.len(), ids.len());
    assert!(target.asset_blobs(&[AssetId("none".into())]).await.unwrap().is_empty());
    assert_eq!(target.unfinished_jobs().await.unwrap(), 0, "jobs are not copied");
    // The imported keys and listings work as the source's do.
    assert_eq!(
        names(&target.list_folder(A, "p", None, 100).await.unwrap()),
        names(&source.list_folder(A, "p", None, 100).await.unwrap())
    );
    let p = target.principal_for_key(&hash_api_key("secret")).await.unwrap().expect("key came along");
    assert_eq!(p.roles.get(&A), Some(&Role::Editor));
}

#[tokio::test]
async fn sqlite_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("meta.db").display());
    let store = assetlib_db::connect(&url).await.unwrap();
    suite(store.clone()).await;
    let (target, _dir) = common::sqlite_store().await;
    transfer_store(&*store, &*target).await;
}

#[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
#[tokio::test]
async fn postgres_store_conforms() {
    let Some((store, url)) = common::postgres_store().await else { return };
    suite(store.clone()).await;
    let Some((target, target_url)) = common::postgres_store().await else { return };
    transfer_store(&*store, &*target).await;
    common::drop_database(&url).await;
    common::drop_database(&target_url).await;
}

/// The coverage rule: every method of every metadata port is called in the section of the
/// suite named after its port, so that a method added to a port without a case fails here.
#[test]
fn every_port_method_has_a_case() {
    let ports = include_str!("../../core/src/ports.rs");
    let suite = include_str!("conformance.rs");
    let traits = [
        "AccountStore",
        "AssetStore",
        "CollectionStore",
        "FolderStore",
        "UploadQueueStore",
        "JobStore",
        "RenditionStore",
        "TransferStore",
        "SettingStore",
        "SessionStore",
    ];
    let gathered = ports.split("pub trait MetaStore:").nth(1).and_then(|s| s.split('{').next()).unwrap_or_default();
    for name in traits {
        assert!(gathered.contains(name), "MetaStore does not gather {name}");
        let body = ports
            .split(&format!("pub trait {name}:"))
            .nth(1)
            .and_then(|s| s.split("\n}\n").next())
            .unwrap_or_else(|| panic!("no trait {name} in ports.rs"));
        let methods: Vec<&str> = body
            .split("async fn ")
            .skip(1)
            .filter_map(|s| s.split(|c: char| !(c.is_alphanumeric() || c == '_')).next())
            .collect();
        assert!(!methods.is_empty(), "{name} has no methods?");
        let section_name: String = name
            .chars()
            .enumerate()
            .flat_map(|(i, c)| {
                let sep = (i > 0 && c.is_uppercase()).then_some('_');
                sep.into_iter().chain(c.to_lowercase())
            })
            .collect();
        // The section is every function named after the port, or after it and a suffix.
        let section: String = suite
            .split("\nasync fn ")
            .skip(1)
            .filter(|f| f.starts_with(&format!("{section_name}(")) || f.starts_with(&format!("{section_name}_")))
            .map(|f| f.split("\n}\n").next().unwrap_or_default())
            .collect();
        assert!(!section.is_empty(), "no section {section_name} for {name}");
        for method in methods {
            assert!(section.contains(&format!(".{method}(")), "{name}::{method} has no case in {section_name}");
        }
    }
}
