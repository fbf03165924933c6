//! Copies, metadata, flat asset listings and folder checks (what the Clinch dialect brought to the
//! core, for every dialect).

use super::{SqliteStore, asset_from, prune_folders, put_asset};
use crate::errors::db;
use crate::shared::{copy_write, metadata_json, subtree_range};
use assetlib_core::model::{Asset, FolderDelete, Metadata, Millis};
use assetlib_core::{AccountId, AssetId, Result, UserId};
use sqlx::Row;

const FILES_IN: &str = concat!(
    "SELECT ",
    asset_columns!(),
    " FROM assets WHERE account_id = ? AND path = ? AND name > ? ORDER BY name LIMIT ?"
);
/// Files in the subtree range `[lo, hi)` after (path, name): one range of `assets_key`.
const FILES_BELOW: &str = concat!(
    "SELECT ",
    asset_columns!(),
    " FROM assets WHERE account_id = ? AND path >= ? AND path < ? AND (path, name) > (?, ?)
     ORDER BY path, name LIMIT ?"
);
const SET_METADATA: &str = concat!(
    "UPDATE assets SET metadata = ? WHERE account_id = ? AND path = ? AND name = ? RETURNING ",
    asset_columns!()
);

impl SqliteStore {
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
        // One writer at a time: the source cannot be deleted between this read and the commit.
        let mut tx = self.begin().await?;
        let Some(source) = sqlx::query(super::GET_ASSET)
            .bind(account.0)
            .bind(from.0)
            .bind(from.1)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .as_ref()
            .map(asset_from)
        else {
            return Ok(None);
        };
        let write = copy_write(account, &source, to, overwrite, new_id, created_by, now);
        let copy = put_asset(&mut tx, &write, &write.files[0], new_id).await?;
        if remove_source {
            sqlx::query("DELETE FROM assets WHERE id = ?").bind(&source.id.0).execute(&mut *tx).await.map_err(db)?;
            prune_folders(&mut tx, account, from.0).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(Some(copy))
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
            .fetch_optional(&self.write)
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
                .fetch_all(&self.read)
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
                .fetch_all(&self.read)
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
            .fetch_all(&self.read)
            .await
            .map_err(db)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub(super) async fn has_folder(&self, account: AccountId, folder: &str) -> Result<bool> {
        let found = sqlx::query("SELECT 1 FROM folders WHERE account_id = ? AND path = ?")
            .bind(account.0)
            .bind(folder)
            .fetch_optional(&self.read)
            .await
            .map_err(db)?;
        Ok(found.is_some())
    }

    pub(super) async fn delete_if_empty(&self, account: AccountId, folder: &str) -> Result<FolderDelete> {
        let mut tx = self.begin().await?;
        let state: Option<(bool, bool)> = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM assets WHERE account_id = ?1 AND path = ?2),
                    EXISTS (SELECT 1 FROM folders WHERE account_id = ?1 AND parent = ?2)
             FROM folders WHERE account_id = ?1 AND path = ?2",
        )
        .bind(account.0)
        .bind(folder)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        .map(|r| (r.get(0), r.get(1)));
        match state {
            None => return Ok(FolderDelete::Missing),
            Some((false, false)) => {}
            Some(_) => return Ok(FolderDelete::NotEmpty),
        }
        sqlx::query("DELETE FROM folders WHERE account_id = ? AND path = ?")
            .bind(account.0)
            .bind(folder)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        prune_folders(&mut tx, account, crate::shared::parent_of(folder)).await?;
        tx.commit().await.map_err(db)?;
        Ok(FolderDelete::Deleted)
    }
}
