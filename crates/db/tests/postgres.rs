//! PostgreSQL specifics: concurrent start-up migrations, leases on a shared store, byte-wise
//! names whatever the database's collation, and how connection failures are reported.

use assetlib_core::Code;
use assetlib_core::model::{Account, NewJob};
use assetlib_core::model::{JobKind, JobQueue};
use assetlib_core::{AccountId, BlobKey, ErrorKind};

mod common;

const A: AccountId = AccountId(1);

/// Two servers starting at once on an empty database: both migrate (one waits for the
/// other's advisory lock), neither fails.
#[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_servers_starting_at_once_both_migrate() {
    let Some(url) = common::fresh_postgres_url().await else { return };
    // Joined rather than spawned: the migrator's future is not provably `Send`. The four
    // still run at once, each on its own connection.
    let (a, b, c, d) = tokio::join!(
        assetlib_db::connect(&url),
        assetlib_db::connect(&url),
        assetlib_db::connect(&url),
        assetlib_db::connect(&url)
    );
    for opened in [a, b, c, d] {
        opened.expect("a concurrent start migrates or finds it done");
    }
    let store = assetlib_db::connect(&url).await.unwrap();
    assert_eq!(store.account_count().await.unwrap(), 0);
    drop(store);
    common::drop_database(&url).await;
}

/// On a shared store, start-up only hands back jobs whose lease ran out: a job another live
/// server is running stays with it.
#[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
#[tokio::test]
async fn postgres_release_keeps_live_leases() {
    let Some((store, url)) = common::postgres_store().await else { return };
    let now = assetlib_core::model::now_millis();
    let job = |blob: &str| NewJob { kind: JobKind::DeleteBlob { blob: BlobKey(blob.into()) }, run_at: 0 };
    let live = store.enqueue_job(&job("live")).await.unwrap();
    let dead = store.enqueue_job(&job("dead")).await.unwrap();
    assert_eq!(store.claim_job(JobQueue::Cleanup, "alive", now, now + 600_000).await.unwrap().unwrap().id, live);
    assert_eq!(store.claim_job(JobQueue::Cleanup, "gone", now, now - 1).await.unwrap().unwrap().id, dead);
    assert_eq!(store.release_abandoned_jobs("no-such-node").await.unwrap(), 1, "only the expired lease");
    let next = store.claim_job(JobQueue::Cleanup, "new", now, now + 600_000).await.unwrap().unwrap();
    assert_eq!((next.id, next.attempts), (dead, 2));
    assert!(
        store.claim_job(JobQueue::Cleanup, "new", now, now + 600_000).await.unwrap().is_none(),
        "the live job stays leased"
    );
    common::drop_database(&url).await;
}

/// A restarted server takes back at once, lease or not, the jobs its own previous run left;
/// another node's live job stays with it.
#[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
#[tokio::test]
async fn postgres_restart_takes_back_its_own_jobs() {
    let Some((store, url)) = common::postgres_store().await else { return };
    let now = assetlib_core::model::now_millis();
    let job = |blob: &str| NewJob { kind: JobKind::DeleteBlob { blob: BlobKey(blob.into()) }, run_at: 0 };
    let mine = store.enqueue_job(&job("mine")).await.unwrap();
    let theirs = store.enqueue_job(&job("theirs")).await.unwrap();
    assert_eq!(store.claim_job(JobQueue::Cleanup, "aaaa/run1-0", now, now + 600_000).await.unwrap().unwrap().id, mine);
    assert_eq!(
        store.claim_job(JobQueue::Cleanup, "bbbb/run1-0", now, now + 600_000).await.unwrap().unwrap().id,
        theirs
    );
    assert_eq!(store.release_abandoned_jobs("aaaa").await.unwrap(), 1);
    assert_eq!(store.claim_job(JobQueue::Cleanup, "aaaa/run2-0", now, now + 600_000).await.unwrap().unwrap().id, mine);
    assert!(
        store.claim_job(JobQueue::Cleanup, "aaaa/run2-1", now, now + 600_000).await.unwrap().is_none(),
        "theirs stays leased"
    );
    common::drop_database(&url).await;
}

/// Names sort and subtrees range byte-wise even in a database whose default collation does
/// not (the test databases use ICU en-US where the server has it).
#[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
#[tokio::test]
async fn postgres_names_compare_bytewise() {
    let Some((store, url)) = common::postgres_store().await else { return };
    store.create_account(&Account { id: A, name: "a".into(), public: true, created_at: 1 }).await.unwrap();
    let names = ["B.png", "a.png", "_x.png", "Z.png", "c-d.png", "c.d.png", "é.png"];
    let files: Vec<_> = names.iter().map(|n| common::file("n", n, n)).collect();
    store.write_assets(&common::write(A, files, 1)).await.unwrap();
    let listed: Vec<String> =
        store.list_folder(A, "n", None, 100).await.unwrap().iter().map(|e| e.name().to_owned()).collect();
    let mut expected: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    expected.sort(); // Rust compares strings byte-wise
    assert_eq!(listed, expected);

    let folders = ["p/c", "p/c/x", "p/c-d", "p/c.d", "p/c0", "p/cc", "p/C"];
    let files: Vec<_> = folders.iter().map(|f| common::file(f, "f.png", f)).collect();
    store.write_assets(&common::write(A, files, 2)).await.unwrap();
    assert_eq!(store.delete_folder(A, "p/c", 3).await.unwrap(), 2);
    let left: Vec<String> =
        store.list_folder(A, "p", None, 100).await.unwrap().iter().map(|e| e.name().to_owned()).collect();
    assert_eq!(left, ["C", "c-d", "c.d", "c0", "cc"]);
    common::drop_database(&url).await;
}

/// A server that cannot reach its database reports it unavailable, not an internal error.
#[tokio::test]
async fn unreachable_postgres_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener); // nothing listens there now
    let err = assetlib_db::connect(&format!("postgres://u:p@127.0.0.1:{port}/db")).await.err().unwrap();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err:?}");
}

/// A wrong password or database is the operator's to fix, and the message says which.
#[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
#[tokio::test]
async fn misconfigured_postgres_is_explained() {
    let Some(url) = common::fresh_postgres_url().await else { return };
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let wrong_password = format!("{scheme}://nobody:wrong@{host}");
    let err = assetlib_db::connect(&wrong_password).await.err().unwrap();
    assert_eq!((err.kind, err.code), (ErrorKind::Invalid, Code::DatabaseUnusable), "{err:?}");
    assert!(err.message.contains("nobody") && !err.message.contains("wrong"), "{}", err.message);
    let missing = format!("{}_missing", url.split('?').next().unwrap());
    let err = assetlib_db::connect(&missing).await.err().unwrap();
    assert_eq!((err.kind, err.code), (ErrorKind::Invalid, Code::DatabaseUnusable), "{err:?}");
    common::drop_database(&url).await;
}

/// The text columns that are ordered or ranged over are byte-wise whatever the default.
#[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
#[tokio::test]
async fn postgres_ordered_columns_collate_bytewise() {
    let Some((_store, url)) = common::postgres_store().await else { return };
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, collation_name::text FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name IN ('folders', 'assets') AND column_name IN ('path', 'parent', 'name')
         ORDER BY 1, 2",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let expected =
        [("assets", "name"), ("assets", "path"), ("folders", "name"), ("folders", "parent"), ("folders", "path")];
    assert_eq!(rows.len(), expected.len(), "{rows:?}");
    for ((table, column, collation), (t, c)) in rows.iter().zip(expected) {
        assert_eq!((table.as_str(), column.as_str(), collation.as_deref()), (t, c, Some("C")));
    }
    drop(conn);
    common::drop_database(&url).await;
}

/// The pool size is what the server asks for: many requests at once share that many
/// connections (counted by PostgreSQL itself) and all complete.
#[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_pool_keeps_the_configured_connection_count() {
    let Some(url) = common::fresh_postgres_url().await else { return };
    let store = assetlib_db::connect_with(&url, 2).await.unwrap();
    store.create_account(&Account { id: A, name: "a".into(), public: true, created_at: 1 }).await.unwrap();
    let lookups = (0..32).map(|i| {
        let store = store.clone();
        tokio::spawn(async move { store.get_asset(A, "p", &format!("f{i}.png")).await })
    });
    for lookup in futures::future::join_all(lookups).await {
        assert!(lookup.unwrap().unwrap().is_none());
    }
    let db_name = url.rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'assetlib'",
    )
    .bind(&db_name)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!((1..=2).contains(&open), "{open} connections for a pool of 2");
    admin.close().await;
    drop(store);
    common::drop_database(&url).await;
}
