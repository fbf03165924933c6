//! Copies, metadata, flat asset listings and folder checks (what the Clinch dialect brought to the
//! core, for every dialect).

use super::{
    PgStore, asset_from, chain, commit, lock_folders_exclusive, lock_folders_shared, prune_folders, put_asset, retrying,
};
use crate::errors::db;
use crate::shared::{copy_write, metadata_json, subtree_range};
use assetlib_core::model::{Asset, FolderDelete, Metadata, Millis};
use assetlib_core::{AccountId, AssetId, Result, UserId};
use sqlx::Row;

const FILES_IN: &str = concat!(
    "SELECT ",
    asset_columns!(),
    " FROM assets WHERE account_id = $1 AND path = $2 AND name > $3 ORDER BY name LIMIT $4"
);
/// Files in the subtree range `[lo, hi)` after (path, name): one range of `assets_key`.
const FILES_BELOW: &str = concat!(
    "SELECT ",
    asset_columns!(),
    " FROM assets WHERE account_id = $1 AND path >= $2 AND path < $3 AND (path, name) > ($4, $5)
     ORDER BY path, name LIMIT $6"
);
/// The source of a copy, locked against deletion until the copy commits.
const COPY_SOURCE: &str =
    concat!("SELECT ", asset_columns!(), " FROM assets WHERE account_id = $1 AND path = $2 AND name = $3 FOR SHARE");
/// The source of a move, locked as for a delete: concurrent moves of it wait, then find it gone.
const MOVE_SOURCE: &str =
    concat!("SELECT ", asset_columns!(), " FROM assets WHERE account_id = $1 AND path = $2 AND name = $3 FOR UPDATE");
const SET_METADATA: &str = concat!(
    "UPDATE assets SET metadata = $1 WHERE account_id = $2 AND path = $3 AND name = $4 RETURNING ",
    asset_columns!()
);

impl PgStore {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn copy(
        &self,
        account: AccountId,
        from: (&str, &str),
        to: (&str, &str),
        overwrite: bool,
        remove_source: bool,
        new_id: &AssetId,
        created_by: Option<&UserId>,
        now: Millis,
    ) -> Result<Option<Asset>> {
        let folders = &chain(to.0);
        let source_folders = &chain(from.0);
        let source_sql = if remove_source { MOVE_SOURCE } else { COPY_SOURCE };
        retrying(|| {
            Box::pin(async move {
                let mut tx = self.begin().await?;
                let conn = &mut *tx;
                // Folder locks first, as every write takes them; then the source row, shared:
                // a delete of the source waits for this commit (and its blob job then finds
                // the copy referencing the blob), or committed before (no source).
                // A move may prune the source's folders: it holds them alone (if one is missing,
                // so is the source). Out of path order with the destination's: PostgreSQL
                // detects the rare deadlock, and the transaction runs again.
                if remove_source && !lock_folders_exclusive(conn, account, source_folders).await? {
                    return commit(tx, None).await;
                }
                lock_folders_shared(conn, account, folders, now).await?;
                let source = sqlx::query(source_sql)
                    .bind(account.0)
                    .bind(from.0)
                    .bind(from.1)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db)?
                    .as_ref()
                    .map(asset_from);
                let Some(source) = source else { return commit(tx, None).await };
                let write = copy_write(account, &source, to, overwrite, new_id, created_by, now);
                let copy = put_asset(conn, &write, &write.files[0], new_id).await?;
                if remove_source {
                    sqlx::query("DELETE FROM assets WHERE id = $1")
                        .bind(&source.id.0)
                        .execute(&mut *conn)
                        .await
                        .map_err(db)?;
                    prune_folders(conn, account, from.0).await?;
                }
                commit(tx, Some(copy)).await
            })
        })
        .await
    }

    pub(super) async fn set_metadata(
        &self,
        account: AccountId,
        path: &str,
        name: &str,
        metadata: &Metadata,
    ) -> Result<Option<Asset>> {
        let row = sqlx::query(SET_METADATA)
            .bind(metadata_json(metadata))
            .bind(account.0)
            .bind(path)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(row.as_ref().map(asset_from))
    }

    pub(super) async fn assets_page(
        &self,
        account: AccountId,
        folder: &str,
        recursive: bool,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<Asset>> {
        let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut out = vec![];
        // The folder's own files come first (its path sorts before its subtree's), then the
        // subtree `[folder/, folder0)`.
        let in_folder = after.is_none_or(|(path, _)| path == folder);
        if in_folder {
            let after_name = after.map_or("", |(_, name)| name);
            let rows = sqlx::query(FILES_IN)
                .bind(account.0)
                .bind(folder)
                .bind(after_name)
                .bind(limit_sql)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
            out.extend(rows.iter().map(asset_from));
        }
        if recursive && out.len() < limit {
            let (lo, hi) = subtree_range(folder);
            let (after_path, after_name) = match after {
                Some((path, name)) if !in_folder => (path.to_owned(), name.to_owned()),
                _ => (lo.clone(), String::new()),
            };
            let rows = sqlx::query(FILES_BELOW)
                .bind(account.0)
                .bind(&lo)
                .bind(&hi)
                .bind(after_path)
                .bind(after_name)
                .bind((limit - out.len()) as i64)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
            out.extend(rows.iter().map(asset_from));
        }
        Ok(out)
    }

    pub(super) async fn subfolders(
        &self,
        account: AccountId,
        folder: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>> {
        let rows = sqlx::query(super::FOLDERS_PAGE)
            .bind(account.0)
            .bind(folder)
            .bind(after)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub(super) async fn has_folder(&self, account: AccountId, folder: &str) -> Result<bool> {
        let found = sqlx::query("SELECT 1 FROM folders WHERE account_id = $1 AND path = $2")
            .bind(account.0)
            .bind(folder)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(found.is_some())
    }

    pub(super) async fn delete_if_empty(&self, account: AccountId, folder: &str) -> Result<FolderDelete> {
        let folders = &chain(folder);
        retrying(|| {
            Box::pin(async move {
                let mut tx = self.begin().await?;
                let conn = &mut *tx;
                // Holding the folder alone keeps writers out of it while it is checked.
                if !lock_folders_exclusive(conn, account, folders).await? {
                    return commit(tx, FolderDelete::Missing).await;
                }
                let (has_assets, has_folders): (bool, bool) = sqlx::query(
                    "SELECT EXISTS (SELECT 1 FROM assets WHERE account_id = $1 AND path = $2),
                            EXISTS (SELECT 1 FROM folders WHERE account_id = $1 AND parent = $2)",
                )
                .bind(account.0)
                .bind(folder)
                .fetch_one(&mut *conn)
                .await
                .map(|r| (r.get(0), r.get(1)))
                .map_err(db)?;
                if has_assets || has_folders {
                    return commit(tx, FolderDelete::NotEmpty).await;
                }
                sqlx::query("DELETE FROM folders WHERE account_id = $1 AND path = $2")
                    .bind(account.0)
                    .bind(folder)
                    .execute(&mut *conn)
                    .await
                    .map_err(db)?;
                prune_folders(conn, account, crate::shared::parent_of(folder)).await?;
                commit(tx, FolderDelete::Deleted).await
            })
        })
        .await
    }
}
