//! Views and downloads (SPEC 5.6), counted without slowing or failing the read they count:
//! each read adds to a tally in memory, and a task writes the tallies in one transaction every
//! [`FLUSH_EVERY`]. A crash loses at most the tallies of that interval; a write that fails is
//! tried again with the next one.

use super::Library;
use crate::ids::AssetId;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the tallies are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Beyond this many assets with pending tallies, new counts are dropped until the next write
/// (a store that stays down must not grow the server's memory without bound).
const MAX_PENDING: usize = 1_000_000;

/// Pending `(views, downloads)` by asset.
pub(crate) type Tallies = HashMap<AssetId, (u64, u64)>;

impl Library {
    /// Counts a read of the asset by id.
    pub fn count_view(&self, id: &AssetId) {
        self.tally(id, 1, 0);
    }

    /// Counts a download of the asset's content.
    pub fn count_download(&self, id: &AssetId) {
        self.tally(id, 0, 1);
    }

    fn tally(&self, id: &AssetId, views: u64, downloads: u64) {
        let Ok(mut pending) = self.tallies.lock() else { return };
        if pending.len() >= MAX_PENDING && !pending.contains_key(id) {
            return;
        }
        let entry = pending.entry(id.clone()).or_default();
        entry.0 += views;
        entry.1 += downloads;
    }

    /// Writes the pending tallies; on failure they are kept for the next write.
    pub async fn flush_counts(&self) -> crate::Result<()> {
        let taken: Tallies = match self.tallies.lock() {
            Ok(mut pending) => std::mem::take(&mut *pending),
            Err(_) => return Ok(()),
        };
        if taken.is_empty() {
            return Ok(());
        }
        let counts: Vec<(AssetId, u64, u64)> = taken.iter().map(|(id, (v, d))| (id.clone(), *v, *d)).collect();
        if let Err(e) = self.meta.add_asset_counts(&counts).await {
            if let Ok(mut pending) = self.tallies.lock() {
                for (id, (v, d)) in taken {
                    let entry = pending.entry(id).or_default();
                    entry.0 += v;
                    entry.1 += d;
                }
            }
            return Err(e);
        }
        Ok(())
    }

    /// Writes the tallies every [`FLUSH_EVERY`] until `shutdown`, then once more.
    pub(crate) fn spawn_count_writer(
        self: &Arc<Self>,
        mut shutdown: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let lib = self.clone();
        tokio::spawn(async move {
            loop {
                let stopping = tokio::select! {
                    _ = tokio::time::sleep(FLUSH_EVERY) => false,
                    _ = shutdown.changed() => true,
                };
                lib.forget_idle_buckets();
                if let Err(e) = lib.flush_counts().await {
                    tracing::warn!(error = %e, "could not write view and download counts; they are kept for the next try");
                }
                if stopping || *shutdown.borrow() {
                    break;
                }
            }
        })
    }
}
