//! Whole-library export and import for `assetlib migrate` on PostgreSQL: the shared code of
//! [`crate::transfer`], and the lookup of blobs by asset id.

use super::{PgStore, put_queue_in};
use assetlib_core::model::QueueEntry;
use assetlib_core::{AssetId, BlobKey};
use sqlx::PgConnection;

crate::transfer::export_import!(PgStore, PgConnection, pool, import_queue);

async fn import_queue(conn: &mut PgConnection, q: &QueueEntry) -> Result<()> {
    put_queue_in(conn, q, None).await
}

impl PgStore {
    pub(super) async fn blobs_of(&self, ids: &[AssetId]) -> Result<HashMap<AssetId, BlobKey>> {
        let ids: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
        let rows = sqlx::query("SELECT id, blob_key FROM assets WHERE id = ANY($1)")
            .bind(ids)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        Ok(rows.iter().map(|r| (AssetId(r.get("id")), BlobKey(r.get("blob_key")))).collect())
    }
}
