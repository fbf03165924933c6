//! Renditions (SPEC section 6): a `thumbnail` and a `web` version of every image (and, where
//! the machine has the tools, of videos and PDFs), made by a job in the `render` queue after
//! the upload commits. They belong to the content blob, so copies share them; the blob's
//! deletion job removes them with it.

use super::Library;
use crate::error::{Error, ErrorKind, Result};
use crate::ids::BlobKey;
use crate::model::{Asset, JobFence, JobKind, NewJob, ORIGINAL, Rendition, Renditions, StoredFile};
use crate::ports::Renderer;
use crate::rules::extension_of;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;

impl Library {
    /// Makes renditions with `renderer`. Without one, nothing gets renditions.
    pub fn with_renderer(mut self, renderer: Arc<dyn Renderer>) -> Self {
        self.renderer = Some(renderer);
        self
    }

    /// The render jobs for files about to be written: one per file the renderer can read.
    pub(crate) fn render_jobs(&self, files: &[StoredFile], now: crate::model::Millis) -> Vec<NewJob> {
        let Some(renderer) = &self.renderer else { return vec![] };
        files
            .iter()
            .filter_map(|f| {
                let extension = extension_of(&f.name);
                renderer
                    .renderable(&extension)
                    .then(|| NewJob { kind: JobKind::Render { blob: f.blob.clone(), extension }, run_at: now })
            })
            .collect()
    }

    /// The render job's work: reads the blob into a temporary file, renders it on a blocking
    /// thread, stores each version and records them under the job's fence. A file that cannot
    /// be rendered keeps no renditions; the reason is logged and the job ends (a retry would
    /// fail the same way). A renderer that panics fails the job (retried, then parked with the
    /// panic's message). Content no asset uses any more is not rendered.
    pub(crate) async fn render(&self, fence: JobFence, source: &BlobKey, extension: &str) -> Result<()> {
        let Some(renderer) = self.renderer.clone() else { return Ok(()) };
        if !self.meta.blob_referenced(source).await? {
            return Ok(());
        }
        let file = match self.fetch_to_temp(source).await {
            Ok(file) => file,
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(()), // deleted since
            Err(e) => return Err(e),
        };
        let ext = extension.to_owned();
        let rendered = tokio::task::spawn_blocking(move || {
            let out = renderer.render(file.path(), &ext);
            drop(file);
            out
        })
        .await;
        let rendered = match rendered {
            Ok(Ok(rendered)) => rendered,
            Ok(Err(e)) => {
                tracing::info!(blob = %source, reason = %e.message, "no renditions: the file could not be rendered");
                return Ok(());
            }
            // A fault of ours, not of the file: the job fails, is retried, and is parked with
            // this reason if it keeps failing.
            Err(join) => {
                let reason = match join.try_into_panic() {
                    Ok(panic) => super::jobs::panic_message(&*panic).to_owned(),
                    Err(e) => e.to_string(),
                };
                tracing::error!(blob = %source, %reason, "the renderer panicked");
                // Job errors are never shown to clients: the message may carry the cause.
                let message = format!("the renderer panicked: {reason}");
                return Err(Error::new(ErrorKind::Internal, crate::Code::Internal, message));
            }
        };
        let mut versions = Vec::with_capacity(rendered.versions.len());
        for v in rendered.versions {
            let blob = Rendition::blob_for(source, &v.name, &v.extension);
            let size = v.bytes.len() as u64;
            let body: crate::ports::ByteStream =
                Box::pin(futures::stream::once(async move { Ok(Bytes::from(v.bytes)) }));
            self.blobs.put(&blob, body).await?;
            versions.push(Rendition {
                version: v.name,
                blob,
                size,
                content_type: v.content_type,
                extension: v.extension,
                width: v.width,
                height: v.height,
            });
        }
        let renditions = Renditions { original: rendered.original, versions };
        // Not recorded: the content was deleted meanwhile (its blobs go with the sweep), or
        // another worker holds the job now and writes the same blobs.
        if !self.meta.put_renditions(fence, source, &renditions).await? {
            tracing::info!(blob = %source, "renditions not recorded: the content or the job moved on");
        }
        Ok(())
    }

    /// The recorded renditions of each asset's content, by blob (one query for them all).
    pub async fn renditions_of(&self, assets: &[&Asset]) -> Result<HashMap<BlobKey, Renditions>> {
        if assets.is_empty() {
            return Ok(HashMap::new());
        }
        let mut blobs: Vec<BlobKey> = assets.iter().map(|a| a.blob.clone()).collect();
        blobs.sort();
        blobs.dedup();
        self.meta.renditions_of(&blobs).await
    }

    /// The recorded renditions of one asset's content (none recorded: empty).
    pub async fn renditions(&self, asset: &Asset) -> Result<Renditions> {
        Ok(self.renditions_of(&[asset]).await?.remove(&asset.blob).unwrap_or_default())
    }

    /// What serving `version` of `asset` reads: `None` for the original, the rendition for
    /// another version, `NotFound` (with `not_found`'s words) for a version it does not have.
    pub async fn version_of(
        &self,
        asset: &Asset,
        version: &str,
        not_found: impl FnOnce() -> Error,
    ) -> Result<Option<Rendition>> {
        if version == ORIGINAL {
            return Ok(None);
        }
        match self.renditions(asset).await?.get(version) {
            Some(r) => Ok(Some(r.clone())),
            None => Err(not_found()),
        }
    }

    /// The content of a rendition, or a range of it.
    pub async fn read_rendition(
        &self,
        rendition: &Rendition,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<crate::ports::Content> {
        self.blobs.get(&rendition.blob, range).await.map_err(|e| match e.kind {
            ErrorKind::NotFound => Error::internal(format!("rendition blob {} is missing", rendition.blob)),
            _ => e,
        })
    }

    /// A blob deletion job's work: unless an asset or a pending upload still uses `blob`, its
    /// renditions go first (their blobs, then their records), then the blob. Run again after a
    /// crash it finds less to do.
    pub(crate) async fn delete_blob_unless_used(&self, blob: &BlobKey) -> Result<()> {
        if self.meta.blob_referenced(blob).await? {
            return Ok(());
        }
        let recorded = self.meta.renditions_of(std::slice::from_ref(blob)).await?;
        for r in recorded.get(blob).map(|r| r.versions.as_slice()).unwrap_or_default() {
            self.blobs.delete(&r.blob).await?;
        }
        self.meta.delete_renditions(blob).await?;
        self.blobs.delete(blob).await
    }
}
