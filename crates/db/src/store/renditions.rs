//! The renditions of content blobs ([`RenditionStore`]).

use super::Store;
use crate::engine::Engine;
use crate::rows::{RenditionRow, renditions_from};
use crate::sql::{Conn, Stmt, int};
use assetlib_core::model::{JobFence, ORIGINAL, Renditions, now_millis};
use assetlib_core::ports::RenditionStore;
use assetlib_core::{BlobKey, Result};
use async_trait::async_trait;
use std::collections::HashMap;

/// The render job's claim, held for the transaction: a claim taken over since fails it (and,
/// on PostgreSQL, the row lock keeps a take-over waiting until the commit).
pub(crate) const HOLD_CLAIM: &str =
    "UPDATE jobs SET locked_until = locked_until WHERE id = $1 AND claims = $2 AND status = 'running'";
const DELETE_RENDITIONS: &str = "DELETE FROM renditions WHERE source_blob = $1";
const INSERT_RENDITION: &str = "INSERT INTO renditions
     (source_blob, version, blob_key, size, content_type, extension, width, height, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
const RENDITION_BLOBS: &str = "SELECT blob_key FROM renditions WHERE source_blob = $1 AND version <> 'original'";
const RENDITION_REFERENCED: &str =
    "SELECT EXISTS (SELECT 1 FROM renditions WHERE blob_key = $1 AND version <> 'original')";

#[async_trait]
impl<E: Engine> RenditionStore for Store<E> {
    async fn put_renditions(&self, fence: JobFence, source: &BlobKey, renditions: &Renditions) -> Result<bool> {
        self.engine
            .retrying(|| {
                Box::pin(async move {
                    let mut tx = self.engine.begin().await?;
                    let held = Stmt::new(HOLD_CLAIM).bind(fence.id.0).bind(i64::from(fence.claim));
                    if tx.execute(held).await? != 1 {
                        return Ok(false);
                    }
                    let using: Option<(String,)> =
                        tx.fetch_optional(Stmt::new(E::ASSET_USING_BLOB).bind(source.0.as_str())).await?;
                    if using.is_none() {
                        return Ok(false);
                    }
                    tx.execute(Stmt::new(DELETE_RENDITIONS).bind(source.0.as_str())).await?;
                    let now = now_millis();
                    let row =
                        |version: &str, blob: &str, size: u64, content_type: &str, extension: &str, w: u32, h: u32| {
                            Stmt::new(INSERT_RENDITION)
                                .bind(source.0.as_str())
                                .bind(version)
                                .bind(blob)
                                .bind(int(size))
                                .bind(content_type)
                                .bind(extension)
                                .bind(i64::from(w))
                                .bind(i64::from(h))
                                .bind(now)
                        };
                    if let Some((w, h)) = renditions.original {
                        tx.execute(row(ORIGINAL, &source.0, 0, "", "", w, h)).await?;
                    }
                    for r in &renditions.versions {
                        let stmt = row(&r.version, &r.blob.0, r.size, &r.content_type, &r.extension, r.width, r.height);
                        tx.execute(stmt).await?;
                    }
                    E::commit(tx).await?;
                    Ok(true)
                })
            })
            .await
    }

    async fn renditions_of(&self, sources: &[BlobKey]) -> Result<HashMap<BlobKey, Renditions>> {
        if sources.is_empty() {
            return Ok(HashMap::new());
        }
        let list = E::id_list(sources.iter().map(|b| b.0.clone()).collect());
        let rows: Vec<RenditionRow> =
            self.engine.read().await?.fetch_all(Stmt::new(E::RENDITIONS_OF).bind(list)).await?;
        Ok(renditions_from(rows))
    }

    async fn delete_renditions(&self, source: &BlobKey) -> Result<Vec<BlobKey>> {
        let mut tx = self.engine.begin().await?;
        let blobs: Vec<(String,)> = tx.fetch_all(Stmt::new(RENDITION_BLOBS).bind(source.0.as_str())).await?;
        tx.execute(Stmt::new(DELETE_RENDITIONS).bind(source.0.as_str())).await?;
        E::commit(tx).await?;
        Ok(blobs.into_iter().map(|(b,)| BlobKey(b)).collect())
    }

    async fn rendition_referenced(&self, blob: &BlobKey) -> Result<bool> {
        let (referenced,): (bool,) =
            self.engine.read().await?.fetch_one(Stmt::new(RENDITION_REFERENCED).bind(blob.0.as_str())).await?;
        Ok(referenced)
    }
}
