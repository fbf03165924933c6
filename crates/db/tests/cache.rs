//! The lookup cache over a real store: writes through it are seen at once; writes made around
//! it (another process) within its time-to-live.

use assetlib_core::AccountId;
use assetlib_core::cache::CachedMetaStore;
use assetlib_core::model::Account;
use assetlib_core::ports::MetaStore;
use std::sync::Arc;
use std::time::Duration;

mod common;

const A: AccountId = AccountId(1);

async fn blob_of(store: &dyn MetaStore) -> Option<String> {
    store.get_account_and_asset(A, "p", "x.png").await.unwrap().unwrap().1.map(|a| a.blob.0)
}

#[tokio::test]
async fn writes_through_the_cache_are_seen_at_once_and_others_within_the_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let inner = assetlib_db::connect(&format!("sqlite://{}", dir.path().join("m.db").display())).await.unwrap();
    cache_over(inner).await;
}

#[tokio::test]
async fn postgres_writes_through_the_cache_are_seen_at_once_and_others_within_the_ttl() {
    let Some((inner, url)) = common::postgres_store().await else { return };
    cache_over(inner).await;
    common::drop_database(&url).await;
}

async fn cache_over(inner: Arc<dyn MetaStore>) {
    let cached: Arc<dyn MetaStore> = Arc::new(CachedMetaStore::new(inner.clone(), 100, Duration::from_millis(300)));
    cached.create_account(&Account { id: A, name: "a".into(), public: true, created_at: 1 }).await.unwrap();

    assert_eq!(blob_of(&*cached).await, None, "a miss is cached too");
    cached.write_assets(&common::write(A, vec![common::file("p", "x.png", "one")], 1)).await.unwrap();
    assert_eq!(blob_of(&*cached).await.as_deref(), Some("one"));
    cached.write_assets(&common::write(A, vec![common::file("p", "x.png", "two")], 2)).await.unwrap();
    assert_eq!(blob_of(&*cached).await.as_deref(), Some("two"), "a replace through the cache is seen at once");
    cached.set_asset_marks(A, "p", "x.png", Some(true), None, 3).await.unwrap();
    let (_, asset) = cached.get_account_and_asset(A, "p", "x.png").await.unwrap().unwrap();
    assert_eq!(asset.unwrap().archived_at, Some(3));
    cached.delete_folder(A, "p", 4).await.unwrap();
    assert_eq!(blob_of(&*cached).await, None, "a delete through the cache is seen at once");

    // Another process writes to the store directly: seen once the entry's time is up.
    inner.write_assets(&common::write(A, vec![common::file("p", "x.png", "elsewhere")], 5)).await.unwrap();
    assert_eq!(blob_of(&*cached).await, None, "still the cached answer");
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(blob_of(&*cached).await.as_deref(), Some("elsewhere"));
}
