//! The folder tree ([`FolderStore`]): one level's listing, explicit folders, and subtree and
//! strict deletes.

use super::{Store, chain, delete_blobs_later, prune_folders};
use crate::engine::Engine;
use crate::rows::AssetRow;
use crate::shared::{merge, name_of, parent_of, subtree_bounds};
use crate::sql::{Conn, Stmt, asset_columns, int};
use assetlib_core::cursor::Cursor;
use assetlib_core::model::{Asset, Entry, FolderDelete, Millis};
use assetlib_core::ports::FolderStore;
use assetlib_core::{AccountId, Result};
use async_trait::async_trait;

/// A page of child folders: one range of `folders_children`.
pub(crate) const FOLDERS_PAGE: &str =
    "SELECT name FROM folders WHERE account_id = $1 AND parent = $2 AND name > $3 ORDER BY name LIMIT $4";
/// A page of files after a file (or from the start, after ""): one range of `assets_key`.
pub(crate) const FILES_AFTER_FILE: &str = concat!(
    "SELECT ",
    asset_columns!(),
    " FROM assets WHERE account_id = $1 AND path = $2 AND name > $3 ORDER BY path, name LIMIT $4"
);
/// After a folder, a file of the same name comes next.
pub(crate) const FILES_AFTER_FOLDER: &str = concat!(
    "SELECT ",
    asset_columns!(),
    " FROM assets WHERE account_id = $1 AND path = $2 AND name >= $3 ORDER BY path, name LIMIT $4"
);
const INSERT_EXPLICIT_FOLDER: &str = "INSERT INTO folders (account_id, path, parent, name, explicit, created_at)
     VALUES ($1, $2, $3, $4, TRUE, $5) ON CONFLICT (account_id, path) DO NOTHING";
const FOLDER_EXISTS: &str = "SELECT 1 FROM folders WHERE account_id = $1 AND path = $2";
/// Whether an existing folder holds assets, and folders (no row if it does not exist).
const FOLDER_CONTENT: &str = "SELECT EXISTS (SELECT 1 FROM assets WHERE account_id = $1 AND path = $2),
            EXISTS (SELECT 1 FROM folders WHERE account_id = $1 AND parent = $2)
     FROM folders WHERE account_id = $1 AND path = $2";
/// A folder's own assets, then those below it: two index ranges (one with an OR would not be).
pub(crate) const DELETE_FOLDER_ASSETS: &str =
    "DELETE FROM assets WHERE account_id = $1 AND path = $2 RETURNING blob_key";
pub(crate) const DELETE_SUBTREE_ASSETS: &str =
    "DELETE FROM assets WHERE account_id = $1 AND path >= $2 AND path < $3 RETURNING blob_key";
pub(crate) const DELETE_FOLDER: &str = "DELETE FROM folders WHERE account_id = $1 AND path = $2";
pub(crate) const DELETE_SUBTREE_FOLDERS: &str =
    "DELETE FROM folders WHERE account_id = $1 AND path >= $2 AND path < $3";

#[async_trait]
impl<E: Engine> FolderStore for Store<E> {
    async fn list_folder(
        &self,
        account: AccountId,
        folder: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<Entry>> {
        let after_name = after.map_or("", |c| c.name.as_str());
        // Folders named exactly like the cursor come before it whatever its kind; files of that
        // name come after it only if the cursor is a folder.
        let files_sql = if after.is_some_and(|c| c.folder) { FILES_AFTER_FOLDER } else { FILES_AFTER_FILE };
        let mut conn = self.engine.read().await?;
        let page = |sql| Stmt::new(sql).bind(account.0).bind(folder).bind(after_name).bind(int(limit));
        let folders: Vec<(String,)> = conn.fetch_all(page(FOLDERS_PAGE)).await?;
        let files: Vec<AssetRow> = conn.fetch_all(page(files_sql)).await?;
        Ok(merge(folders.into_iter().map(|(n,)| n).collect(), files.into_iter().map(Asset::from).collect(), limit))
    }

    async fn delete_folder(&self, account: AccountId, folder: &str, now: Millis) -> Result<u64> {
        let (lo, hi) = &subtree_bounds(folder);
        // Holding `folder` itself keeps every writer out of its subtree: they all share it.
        let folders = &chain(folder);
        self.engine
            .retrying(|| {
                Box::pin(async move {
                    let mut tx = self.engine.begin().await?;
                    if !E::lock_folders_for_removal(&mut tx, account, folders).await? {
                        return Ok(0);
                    }
                    let own = Stmt::new(DELETE_FOLDER_ASSETS).bind(account.0).bind(folder);
                    let below = Stmt::new(DELETE_SUBTREE_ASSETS).bind(account.0).bind(lo.as_str()).bind(hi.as_str());
                    let mut blobs: Vec<(String,)> = tx.fetch_all(own).await?;
                    blobs.extend(tx.fetch_all::<(String,)>(below).await?);
                    let n = blobs.len() as u64;
                    delete_blobs_later::<E>(&mut tx, blobs.into_iter().map(|(b,)| b).collect(), now).await?;
                    tx.execute(Stmt::new(DELETE_FOLDER).bind(account.0).bind(folder)).await?;
                    tx.execute(Stmt::new(DELETE_SUBTREE_FOLDERS).bind(account.0).bind(lo.as_str()).bind(hi.as_str()))
                        .await?;
                    prune_folders(&mut *tx, account, parent_of(folder)).await?;
                    E::commit(tx).await?;
                    Ok(n)
                })
            })
            .await
    }

    async fn create_folder(&self, account: AccountId, folder: &str, now: Millis) -> Result<bool> {
        let ancestors = &chain(parent_of(folder));
        self.engine
            .retrying(|| {
                Box::pin(async move {
                    let mut tx = self.engine.begin().await?;
                    // If the folder exists, so do its ancestors: this then only holds them.
                    E::hold_folders(&mut tx, account, ancestors, now).await?;
                    let inserted = tx
                        .execute(
                            Stmt::new(INSERT_EXPLICIT_FOLDER)
                                .bind(account.0)
                                .bind(folder)
                                .bind(parent_of(folder))
                                .bind(name_of(folder))
                                .bind(now),
                        )
                        .await?;
                    E::commit(tx).await?;
                    Ok(inserted == 1)
                })
            })
            .await
    }

    async fn list_subfolders(
        &self,
        account: AccountId,
        folder: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>> {
        let stmt = Stmt::new(FOLDERS_PAGE).bind(account.0).bind(folder).bind(after).bind(int(limit));
        let rows: Vec<(String,)> = self.engine.read().await?.fetch_all(stmt).await?;
        Ok(rows.into_iter().map(|(n,)| n).collect())
    }

    async fn folder_exists(&self, account: AccountId, folder: &str) -> Result<bool> {
        let stmt = Stmt::new(FOLDER_EXISTS).bind(account.0).bind(folder);
        let found: Option<(i32,)> = self.engine.read().await?.fetch_optional(stmt).await?;
        Ok(found.is_some())
    }

    async fn delete_empty_folder(&self, account: AccountId, folder: &str) -> Result<FolderDelete> {
        let folders = &chain(folder);
        self.engine
            .retrying(|| {
                Box::pin(async move {
                    let mut tx = self.engine.begin().await?;
                    // Holding the folder alone keeps writers out of it while it is checked.
                    if !E::lock_folders_for_removal(&mut tx, account, folders).await? {
                        return Ok(FolderDelete::Missing);
                    }
                    let content: Option<(bool, bool)> =
                        tx.fetch_optional(Stmt::new(FOLDER_CONTENT).bind(account.0).bind(folder)).await?;
                    match content {
                        None => return Ok(FolderDelete::Missing),
                        Some((false, false)) => {}
                        Some(_) => return Ok(FolderDelete::NotEmpty),
                    }
                    tx.execute(Stmt::new(DELETE_FOLDER).bind(account.0).bind(folder)).await?;
                    prune_folders(&mut *tx, account, parent_of(folder)).await?;
                    E::commit(tx).await?;
                    Ok(FolderDelete::Deleted)
                })
            })
            .await
    }
}
