//! Many servers on one store: the races the PostgreSQL engine must settle the way SQLite's one
//! writer at a time does. Each check runs on PostgreSQL (the case that matters) and on SQLite
//! (the reference behaviour).

use assetlib_core::cursor::Cursor;
use assetlib_core::enqueue::JobBatcher;
use assetlib_core::model::{Account, Entry, NewJob};
use assetlib_core::model::{JobKind, JobQueue};
use assetlib_core::ports::MetaStore;
use assetlib_core::{AccountId, BlobKey};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

mod common;

const A: AccountId = AccountId(1);

async fn with_account(store: &Arc<dyn MetaStore>) {
    store.create_account(&Account { id: A, name: "a".into(), public: true, created_at: 1 }).await.unwrap();
}

/// Claims and finishes every due job; returns the blobs of the DeleteBlob jobs.
async fn drain_deleted_blobs(store: &dyn MetaStore) -> Vec<String> {
    let mut out = vec![];
    for queue in JobQueue::ALL {
        while let Some(job) = store.claim_job(queue, "drain", i64::MAX / 2, i64::MAX / 2).await.unwrap() {
            assert!(store.finish_job(job.fence()).await.unwrap());
            if let JobKind::DeleteBlob { blob } = job.kind {
                out.push(blob.0);
            }
        }
    }
    out
}

/// Every folder and file reachable from the root, by listing page after page. Checks that no
/// folder but the `explicit` ones is empty.
async fn walk(store: &dyn MetaStore, explicit: &[&str]) -> (Vec<String>, BTreeMap<String, String>) {
    let mut folders = vec![];
    let mut files = BTreeMap::new();
    let mut pending = vec![String::new()];
    while let Some(folder) = pending.pop() {
        let mut after: Option<Cursor> = None;
        let mut entries = 0;
        loop {
            let page = store.list_folder(A, &folder, after.as_ref(), 3).await.unwrap();
            let Some(last) = page.last() else { break };
            after = Some(Cursor { name: last.name().to_owned(), folder: last.is_folder() });
            entries += page.len();
            for entry in page {
                match entry {
                    Entry::Folder(name) => {
                        pending.push(if folder.is_empty() { name } else { format!("{folder}/{name}") })
                    }
                    Entry::File(asset) => {
                        files.insert(asset.key(), asset.blob.0);
                    }
                }
            }
        }
        if !folder.is_empty() {
            assert!(
                entries > 0 || explicit.contains(&folder.as_str()),
                "implicit folder {folder} is empty but still listed"
            );
            folders.push(folder);
        }
    }
    (folders, files)
}

/// Opens all the connections a store's pool will use, so that what follows races for real
/// instead of queueing behind connection set-up.
async fn warm_up(store: &Arc<dyn MetaStore>) {
    let reads: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.get_asset(A, "warm", "up.png").await.unwrap() })
        })
        .collect();
    for read in reads {
        read.await.unwrap();
    }
}

/// Servers (here: separate stores on one database) race to upload the same new key: first in
/// a new folder (they race to create the folders too), then in that existing folder (they race
/// for the key alone).
async fn racing_writes_of_one_new_key_all_succeed(servers: [Arc<dyn MetaStore>; 2]) {
    with_account(&servers[0]).await;
    for server in &servers {
        warm_up(server).await;
    }
    let store = &servers[0];
    for (round, name) in ["x.png", "y.png"].into_iter().enumerate() {
        const N: usize = 20;
        let start = Arc::new(tokio::sync::Barrier::new(N));
        let tasks: Vec<_> = (0..N)
            .map(|i| {
                let store = servers[i % 2].clone();
                let start = start.clone();
                tokio::spawn(async move {
                    let upload =
                        common::write(A, vec![common::file("race/deep", name, &format!("blob-{round}-{i}"))], 10);
                    start.wait().await;
                    store.write_assets(&upload).await
                })
            })
            .collect();
        let mut ids = HashSet::new();
        for task in tasks {
            let stored = task.await.unwrap().expect("every racing write succeeds");
            ids.insert(stored[0].id.clone());
        }
        let survivor = store.get_asset(A, "race/deep", name).await.unwrap().expect("one asset remains");
        assert!(ids.contains(&survivor.id));
        let (folders, files) = walk(&**store, &[]).await;
        assert_eq!(folders, ["race", "race/deep"]);
        assert_eq!(files.len(), round + 1, "exactly one asset at the key: {files:?}");
        let mut deleted = drain_deleted_blobs(&**store).await;
        assert_eq!(deleted.len(), N - 1, "the losers' blobs are queued for deletion: {deleted:?}");
        deleted.push(survivor.blob.0.clone());
        deleted.sort();
        deleted.dedup();
        assert_eq!(deleted.len(), N, "each blob is either the survivor's or deleted, once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_racing_writes_of_one_new_key_all_succeed() {
    let (store, dir) = common::sqlite_store().await;
    let other = assetlib_db::connect(&format!("sqlite://{}", dir.path().join("meta.db").display())).await.unwrap();
    racing_writes_of_one_new_key_all_succeed([store, other]).await;
}

#[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_racing_writes_of_one_new_key_all_succeed() {
    let Some((store, url)) = common::postgres_store().await else { return };
    let other = assetlib_db::connect(&url).await.unwrap();
    racing_writes_of_one_new_key_all_succeed([store, other]).await;
    common::drop_database(&url).await;
}

async fn concurrent_workers_claim_each_job_once(store: Arc<dyn MetaStore>) {
    const JOBS: usize = 120;
    const WORKERS: usize = 6;
    for i in 0..JOBS {
        let kind = JobKind::DeleteBlob { blob: BlobKey(format!("b{i}")) };
        store.enqueue_job(&NewJob { kind, run_at: (i % 7) as i64 }).await.unwrap();
    }
    let tasks: Vec<_> = (0..WORKERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut claimed = vec![];
                while let Some(job) =
                    store.claim_job(JobQueue::Cleanup, &format!("w{w}"), 1_000, 1_000_000).await.unwrap()
                {
                    claimed.push(job.id.0);
                    tokio::task::yield_now().await;
                }
                claimed
            })
        })
        .collect();
    let mut all = vec![];
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().copied().collect();
    assert_eq!(all.len(), JOBS, "every job claimed");
    assert_eq!(distinct.len(), JOBS, "no job claimed twice");
}

#[tokio::test]
async fn sqlite_concurrent_workers_claim_each_job_once() {
    let (store, _dir) = common::sqlite_store().await;
    concurrent_workers_claim_each_job_once(store).await;
}

#[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_workers_claim_each_job_once() {
    let Some((store, url)) = common::postgres_store().await else { return };
    concurrent_workers_claim_each_job_once(store).await;
    common::drop_database(&url).await;
}

/// Writers, deleters and folder deletions race over a small tree (batches in random key
/// order, so rows are locked in every order). Afterwards the tree is whole (every asset is
/// reachable, no implicit folder is empty) and every blob ever written is accounted for once:
/// held by the asset at its key, or queued for deletion.
/// Jobs enqueued at once through a [`JobBatcher`] (written many to a transaction) each get
/// an id of their own, for their own job.
async fn batched_enqueues_each_get_their_own_job(store: Arc<dyn MetaStore>) {
    const JOBS: usize = 200;
    let batcher = Arc::new(JobBatcher::new(store.clone()));
    let tasks: Vec<_> = (0..JOBS)
        .map(|i| {
            let batcher = batcher.clone();
            tokio::spawn(async move {
                let kind = JobKind::DeleteBlob { blob: BlobKey(format!("g{i}")) };
                (batcher.enqueue(NewJob { kind: kind.clone(), run_at: (i % 5) as i64 }).await.unwrap(), kind)
            })
        })
        .collect();
    let mut enqueued = BTreeMap::new();
    for task in tasks {
        let (id, kind) = task.await.unwrap();
        assert!(enqueued.insert(id.0, kind).is_none(), "ids are distinct");
    }
    let mut claimed = BTreeMap::new();
    while let Some(job) = store.claim_job(JobQueue::Cleanup, "w", 1_000, 1_000_000).await.unwrap() {
        assert!(store.finish_job(job.fence()).await.unwrap());
        claimed.insert(job.id.0, job.kind);
    }
    assert_eq!(claimed, enqueued);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_batched_enqueues_each_get_their_own_job() {
    let (store, _dir) = common::sqlite_store().await;
    batched_enqueues_each_get_their_own_job(store).await;
}

#[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_batched_enqueues_each_get_their_own_job() {
    let Some((store, url)) = common::postgres_store().await else { return };
    batched_enqueues_each_get_their_own_job(store).await;
    common::drop_database(&url).await;
}

async fn tree_stays_whole_under_racing_writes_and_deletes(store: Arc<dyn MetaStore>) {
    with_account(&store).await;
    const FOLDERS: [&str; 6] = ["a", "a/b", "a/b/c", "a/d", "e", "a/b-c"];
    const NAMES: [&str; 2] = ["x.png", "y.png"];
    const TASKS: usize = 8;
    const OPS: usize = 60;
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut written = vec![];
                for op in 0..OPS {
                    let pick = || (FOLDERS[rand::random_range(0..FOLDERS.len())], NAMES[rand::random_range(0..2)]);
                    match rand::random_range(0..10) {
                        0..6 => {
                            let files: Vec<_> = (0..rand::random_range(1..4))
                                .map(|k| {
                                    let (path, name) = pick();
                                    common::file(path, name, &format!("blob-{t}-{op}-{k}"))
                                })
                                .collect();
                            let blobs: Vec<String> = files.iter().map(|f| f.blob.0.clone()).collect();
                            store.write_assets(&common::write(A, files, op as i64)).await.expect("write");
                            written.extend(blobs);
                        }
                        6..9 => {
                            let (path, name) = pick();
                            store.delete_asset(A, path, name, op as i64).await.expect("delete asset");
                        }
                        _ => {
                            let (path, _) = pick();
                            store.delete_folder(A, path, op as i64).await.expect("delete folder");
                        }
                    }
                }
                written
            })
        })
        .collect();
    let mut written = vec![];
    for task in tasks {
        written.extend(task.await.unwrap());
    }
    let (_, files) = walk(&*store, &[]).await;
    for path in FOLDERS {
        for name in NAMES {
            let key = format!("{path}/{name}");
            let stored = store.get_asset(A, path, name).await.unwrap().map(|a| a.blob.0);
            assert_eq!(stored.as_ref(), files.get(&key), "{key}: stored vs reachable by listing");
        }
    }
    let mut accounted = drain_deleted_blobs(&*store).await;
    accounted.extend(files.into_values());
    accounted.sort();
    written.sort();
    assert_eq!(accounted, written, "each written blob is live or queued for deletion, exactly once");
}

#[tokio::test]
async fn sqlite_tree_stays_whole_under_racing_writes_and_deletes() {
    let (store, _dir) = common::sqlite_store().await;
    tree_stays_whole_under_racing_writes_and_deletes(store).await;
}

#[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_tree_stays_whole_under_racing_writes_and_deletes() {
    let Some((store, url)) = common::postgres_store().await else { return };
    tree_stays_whole_under_racing_writes_and_deletes(store).await;
    common::drop_database(&url).await;
}

/// An explicit folder created while another server fills and empties the same subtree is
/// created once and survives; its implicit ancestors stay with it.
#[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_explicit_folders_survive_racing_prunes() {
    let Some((store, url)) = common::postgres_store().await else { return };
    with_account(&store).await;
    let churn = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                store
                    .write_assets(&common::write(A, vec![common::file("k/l", "x.png", &format!("c{i}"))], i))
                    .await
                    .unwrap();
                store.delete_asset(A, "k/l", "x.png", i).await.unwrap();
            }
        })
    };
    let creators: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.create_folder(A, "k/l/m", 1).await.unwrap() })
        })
        .collect();
    let mut created = 0;
    for c in creators {
        created += usize::from(c.await.unwrap());
    }
    churn.await.unwrap();
    assert_eq!(created, 1, "one creator wins, the others see it exists");
    let (folders, files) = walk(&*store, &["k/l/m"]).await;
    assert_eq!(folders.iter().map(String::as_str).collect::<HashSet<_>>(), HashSet::from(["k", "k/l", "k/l/m"]));
    assert!(files.is_empty());
    common::drop_database(&url).await;
}

/// The lock protocol, step by step: another server's transaction is played by hand on a
/// connection of the test's own, and held open while the store works.
mod lock_protocol {
    use super::*;
    use sqlx::{Connection, PgConnection};
    use std::time::Duration;

    /// Long enough for a store call that does not wait for a lock to have finished.
    const SETTLE: Duration = Duration::from_millis(300);

    async fn connection(url: &str) -> PgConnection {
        PgConnection::connect(url).await.unwrap()
    }

    /// A write into a folder waits for a transaction that is removing that folder, then
    /// creates it again: the asset is never left without its folder.
    #[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_waits_for_a_folder_removal_and_recreates_the_folder() {
        let Some((store, url)) = common::postgres_store().await else { return };
        with_account(&store).await;
        store.write_assets(&common::write(A, vec![common::file("p", "old.png", "old")], 1)).await.unwrap();
        let mut other = connection(&url).await;
        let mut tx = other.begin().await.unwrap();
        sqlx::query("SELECT path FROM folders WHERE account_id = 1 AND path = 'p' FOR UPDATE")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        let writer = {
            let store = store.clone();
            tokio::spawn(async move {
                store.write_assets(&common::write(A, vec![common::file("p", "new.png", "new")], 2)).await
            })
        };
        tokio::time::sleep(SETTLE).await;
        assert!(!writer.is_finished(), "the write waits for the folder's lock");
        sqlx::query("DELETE FROM assets WHERE account_id = 1 AND path = 'p'").execute(&mut *tx).await.unwrap();
        sqlx::query("DELETE FROM folders WHERE account_id = 1 AND path = 'p'").execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        writer.await.unwrap().unwrap();
        let (folders, files) = walk(&*store, &[]).await;
        assert_eq!(folders, ["p"]);
        assert_eq!(files.keys().collect::<Vec<_>>(), ["p/new.png"]);
        common::drop_database(&url).await;
    }

    /// Deleting a folder waits for a write in progress inside it, then deletes what it wrote.
    #[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_folder_deletion_waits_for_a_write_inside_it() {
        let Some((store, url)) = common::postgres_store().await else { return };
        with_account(&store).await;
        store.write_assets(&common::write(A, vec![common::file("p/q", "old.png", "old")], 1)).await.unwrap();
        let mut other = connection(&url).await;
        let mut tx = other.begin().await.unwrap();
        // What a writer holds mid-way: its chain locked, a new asset inserted.
        sqlx::query("SELECT path FROM folders WHERE account_id = 1 AND path IN ('p', 'p/q') FOR KEY SHARE")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO assets (id, account_id, path, name, size, content_type, hash, blob_key, created_at, last_modified)
             VALUES ('hand', 1, 'p/q', 'new.png', 1, 'image/png', 'h', 'new', 2, 2)",
        )
        .execute(&mut *tx)
        .await
        .unwrap();
        let deleter = {
            let store = store.clone();
            tokio::spawn(async move { store.delete_folder(A, "p", 3).await })
        };
        tokio::time::sleep(SETTLE).await;
        assert!(!deleter.is_finished(), "the deletion waits for the write");
        tx.commit().await.unwrap();
        assert_eq!(deleter.await.unwrap().unwrap(), 2, "both assets deleted");
        let (folders, files) = walk(&*store, &[]).await;
        assert!(folders.is_empty() && files.is_empty(), "{folders:?} {files:?}");
        common::drop_database(&url).await;
    }

    /// Deleting the last asset of a folder waits for a write in progress into that folder,
    /// and then leaves the folder, which is no longer empty.
    #[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pruning_waits_for_a_write_into_the_folder() {
        let Some((store, url)) = common::postgres_store().await else { return };
        with_account(&store).await;
        store.write_assets(&common::write(A, vec![common::file("p", "old.png", "old")], 1)).await.unwrap();
        let mut other = connection(&url).await;
        let mut tx = other.begin().await.unwrap();
        sqlx::query("SELECT path FROM folders WHERE account_id = 1 AND path = 'p' FOR KEY SHARE")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO assets (id, account_id, path, name, size, content_type, hash, blob_key, created_at, last_modified)
             VALUES ('hand', 1, 'p', 'new.png', 1, 'image/png', 'h', 'new', 2, 2)",
        )
        .execute(&mut *tx)
        .await
        .unwrap();
        let deleter = {
            let store = store.clone();
            tokio::spawn(async move { store.delete_asset(A, "p", "old.png", 3).await })
        };
        tokio::time::sleep(SETTLE).await;
        assert!(!deleter.is_finished(), "the deletion waits for the write");
        tx.commit().await.unwrap();
        assert!(deleter.await.unwrap().unwrap());
        let (folders, files) = walk(&*store, &[]).await;
        assert_eq!(folders, ["p"]);
        assert_eq!(files.keys().collect::<Vec<_>>(), ["p/new.png"]);
        common::drop_database(&url).await;
    }
}
