//! What really differs between the two engines, and nothing else: how connections and
//! transactions are had, how a transaction that lost a race runs again, the row locks that
//! PostgreSQL needs and SQLite's single writer makes unneeded, list parameters, the one-statement
//! upload, and job claiming. Everything else is written once in [`crate::store`].

use crate::sql::Conn;
use assetlib_core::model::{Asset, AssetWrite, Job, JobQueue, Millis, NewJob};
use assetlib_core::{AccountId, JobId, Result};
use std::future::Future;
use std::ops::DerefMut;
use std::pin::Pin;

/// One attempt at a transaction: begins, works, commits (an early return rolls back).
pub(crate) type Attempt<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

pub(crate) trait Engine: Send + Sync + Sized + 'static {
    type Conn: Conn;
    /// A connection from a pool.
    type Pooled: DerefMut<Target = Self::Conn> + Send;
    /// An open write transaction; dropped without [`Engine::commit`], it rolls back.
    type Tx: DerefMut<Target = Self::Conn> + Send;

    /// The blob of the asset at ($1, $2, $3), locked until the transaction ends where the
    /// engine locks rows.
    const LOCK_ASSET: &'static str;
    /// The source of a copy ($1, $2, $3), all columns, kept from deletion until the copy
    /// commits.
    const COPY_SOURCE: &'static str;
    /// The source of a move, held as for a delete: concurrent moves of it wait, then find it
    /// gone.
    const MOVE_SOURCE: &'static str;
    /// The asset ($1) of an account ($2), all columns, held for an update.
    const ASSET_FOR_UPDATE: &'static str;
    /// The assets in the collection $1, all columns, in id order, held for an update.
    const COLLECTION_MEMBERS: &'static str;
    /// `id, blob_key` of the assets whose ids are in $1 (a list parameter, see
    /// [`Engine::id_list`]).
    const ASSET_BLOBS: &'static str;
    /// `id` of the collections of account $1 whose ids are in $2 (a list parameter), kept from
    /// removal until the transaction ends.
    const COLLECTIONS_IN: &'static str;
    /// `id` of the collection $2 of account $1, kept from change by others (and from
    /// [`Engine::COLLECTIONS_IN`]) until the transaction ends.
    const COLLECTION_FOR_DELETE: &'static str;
    /// The collections (as `COLLECTIONS_PAGE` reads them) of the accounts in $1 (a list of
    /// account ids, see [`Engine::int_list`]), in id order, $2 at most, after skipping $3.
    const COLLECTIONS_OF: &'static str;
    /// The collections whose ids are in $1 (a list parameter), in id order.
    const COLLECTIONS_BY_IDS: &'static str;
    /// `collection_id, count` of the members of the collections of account $1 whose ids are in
    /// $2 (a list parameter); a collection without members has no row.
    const COLLECTION_SIZES: &'static str;

    /// The recorded renditions (as [`crate::rows::RenditionRow`] reads them) of the source
    /// blobs in $1 (a list parameter).
    const RENDITIONS_OF: &'static str;
    /// One asset that uses the blob $1, kept from deletion until the transaction ends (a
    /// rendition is recorded only while its content is in use).
    const ASSET_USING_BLOB: &'static str;

    /// What a search may use that only this engine has: the metadata side table as a probe
    /// names it (`… FROM {this} WHERE m.asset_id = … AND key = … AND folded = …`, aliased `m`,
    /// with the index that answers the probe alone where the engine would not choose it), and
    /// whether the terms index answers conjunctions.
    const SEARCH: crate::store::search::Features;

    /// A connection for reads.
    fn read(&self) -> impl Future<Output = Result<Self::Pooled>> + Send;
    /// A connection for a write of one statement.
    fn write(&self) -> impl Future<Output = Result<Self::Pooled>> + Send;
    fn begin(&self) -> impl Future<Output = Result<Self::Tx>> + Send;
    fn commit(tx: Self::Tx) -> impl Future<Output = Result<()>> + Send;
    /// Runs `attempt` until it succeeds or fails for good. An attempt must only touch the
    /// database: it may run more than once.
    fn retrying<'a, T: Send + 'a>(
        &'a self,
        attempt: impl Fn() -> Attempt<'a, T> + Send + Sync + 'a,
    ) -> impl Future<Output = Result<T>> + Send + 'a;

    /// A list of ids as one list parameter ([`Engine::ASSET_BLOBS`] and the like).
    fn id_list(ids: Vec<String>) -> sea_query::Value;
    /// A list of integers (account ids) as one list parameter.
    fn int_list(ids: Vec<i64>) -> sea_query::Value;

    /// Makes every folder of `folders` (ancestors included, ascending) exist, and keeps each
    /// from removal until the transaction ends, while other writers may still add beside them.
    fn hold_folders(
        conn: &mut Self::Conn,
        account: AccountId,
        folders: &[String],
        now: Millis,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Takes the folders of `folders` (a chain, ascending) for a transaction that may remove
    /// them. `false` if some do not exist: then nothing under the deepest existed either.
    fn lock_folders_for_removal(
        conn: &mut Self::Conn,
        account: AccountId,
        folders: &[String],
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Enqueues `jobs` (all created at `now`); their ids in the order of `jobs`. Work already
    /// queued (by [`assetlib_core::model::JobKind::dedup_key`]) is not queued again: its id is
    /// returned, and it is due at the sooner of the two times.
    fn insert_jobs(
        conn: &mut Self::Conn,
        jobs: &[NewJob],
        now: Millis,
    ) -> impl Future<Output = Result<Vec<JobId>>> + Send;

    /// The common upload (one new file in existing folders) in one round trip, where the
    /// engine can; `None`, with nothing written, when `write` is not one or the engine has no
    /// such path.
    fn write_new_asset(&self, write: &AssetWrite) -> impl Future<Output = Result<Option<Asset>>> + Send;
    /// Claims the next due job of `queue`, or one whose lease ran out.
    fn claim_job(
        &self,
        queue: JobQueue,
        worker: &str,
        now: Millis,
        lease_until: Millis,
    ) -> impl Future<Output = Result<Option<Job>>> + Send;
    /// See [`assetlib_core::ports::JobStore::release_abandoned_jobs`].
    fn release_abandoned_jobs(&self, node: &str) -> impl Future<Output = Result<u64>> + Send;
}
