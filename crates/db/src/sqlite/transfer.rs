//! Whole-library export and import for `assetlib migrate` on SQLite: the shared code of
//! [`crate::transfer`], and the lookup of blobs by asset id.

use super::{SqliteStore, put_queue_in};
use assetlib_core::{AssetId, BlobKey};
use sqlx::SqliteConnection;

crate::transfer::export_import!(SqliteStore, SqliteConnection, read, put_queue_in);

impl SqliteStore {
    pub(super) async fn blobs_of(&self, ids: &[AssetId]) -> Result<HashMap<AssetId, BlobKey>> {
        let ids = serde_json::to_string(&ids).map_err(Error::internal)?;
        let rows = sqlx::query("SELECT id, blob_key FROM assets WHERE id IN (SELECT value FROM json_each($1))")
            .bind(ids)
            .fetch_all(&self.read)
            .await
            .map_err(db)?;
        Ok(rows.iter().map(|r| (AssetId(r.get("id")), BlobKey(r.get("blob_key")))).collect())
    }
}
