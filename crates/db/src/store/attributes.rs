//! An asset's attributes: the columns reads return, and the side tables search reads (one row
//! per tag, SKU, metadata entry, collection and favourite; one per folder the asset lies in),
//! written together from one value in the caller's transaction.

use crate::rows::{AssetRow, list_json, metadata_json};
use crate::sql::{Conn, Stmt, asset_columns};
use assetlib_core::Result;
use assetlib_core::model::Asset;

/// Every field a patch or a copy sets, from an asset value, for the asset `$12`.
const WRITE_ATTRIBUTES: &str = concat!(
    "UPDATE assets SET tags = $1, skus = $2, collection_ids = $3, favourites = $4, batch_id = $5, approved_at = $6,
       expires_at = $7, license_expires_at = $8, archived_at = $9, sensitive_at = $10, metadata = $11
     WHERE id = $12 RETURNING ",
    asset_columns!()
);
const DELETE_TAGS: &str = "DELETE FROM asset_tags WHERE asset_id = $1";
const DELETE_SKUS: &str = "DELETE FROM asset_skus WHERE asset_id = $1";
const DELETE_METADATA: &str = "DELETE FROM asset_metadata WHERE asset_id = $1";
const DELETE_COLLECTIONS: &str = "DELETE FROM asset_collections WHERE asset_id = $1";
const DELETE_FAVOURITES: &str = "DELETE FROM asset_favourites WHERE asset_id = $1";
const INSERT_TAG: &str =
    "INSERT INTO asset_tags (asset_id, account_id, tag, folded, created_at) VALUES ($1, $2, $3, lower($3), $4)";
const INSERT_SKU: &str = "INSERT INTO asset_skus (asset_id, account_id, sku) VALUES ($1, $2, $3)";
const INSERT_METADATA: &str = "INSERT INTO asset_metadata (asset_id, account_id, key, value, folded, created_at)
     VALUES ($1, $2, $3, $4, lower($4), $5)";
const INSERT_COLLECTION: &str =
    "INSERT INTO asset_collections (asset_id, collection_id, account_id) VALUES ($1, $2, $3)";
const INSERT_FAVOURITE: &str = "INSERT INTO asset_favourites (asset_id, user_id, account_id) VALUES ($1, $2, $3)";
const DELETE_FOLDERS: &str = "DELETE FROM asset_folders WHERE asset_id = $1";
const INSERT_FOLDER: &str =
    "INSERT INTO asset_folders (asset_id, account_id, folder, created_at) VALUES ($1, $2, $3, $4)";

/// Whether the asset may already have side rows (then they are replaced) or is new.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rows {
    New,
    Replace,
}

/// Writes every attribute, mark and the metadata of `asset` to its row, and its side rows;
/// returns the row as stored.
pub(crate) async fn write_attributes(conn: &mut impl Conn, asset: &Asset, rows: Rows) -> Result<Asset> {
    let a = &asset.attributes;
    let stmt = Stmt::new(WRITE_ATTRIBUTES)
        .bind(list_json(&a.tags))
        .bind(list_json(&a.skus))
        .bind(list_json(&a.collection_ids))
        .bind(list_json(&a.favourites))
        .bind(a.batch_id.clone())
        .bind(a.approved_at)
        .bind(a.expires_at)
        .bind(a.license_expires_at)
        .bind(asset.archived_at)
        .bind(asset.sensitive_at)
        .bind(metadata_json(&asset.metadata))
        .bind(asset.id.0.as_str());
    let row: AssetRow = conn.fetch_one(stmt).await?;
    index_asset(conn, asset, rows).await?;
    Ok(row.into())
}

/// The side rows of `asset`, all of them, from its value.
pub(crate) async fn index_asset(conn: &mut impl Conn, asset: &Asset, rows: Rows) -> Result<()> {
    let (id, account, a) = (&asset.id, asset.account, &asset.attributes);
    if rows == Rows::Replace {
        for sql in [DELETE_TAGS, DELETE_SKUS, DELETE_COLLECTIONS, DELETE_FAVOURITES] {
            conn.execute(Stmt::new(sql).bind(id.0.as_str())).await?;
        }
    }
    for tag in &a.tags {
        let stmt = Stmt::new(INSERT_TAG).bind(id.0.as_str()).bind(account.0).bind(tag.as_str()).bind(asset.created_at);
        conn.execute(stmt).await?;
    }
    for sku in &a.skus {
        conn.execute(Stmt::new(INSERT_SKU).bind(id.0.as_str()).bind(account.0).bind(sku.as_str())).await?;
    }
    for c in &a.collection_ids {
        conn.execute(Stmt::new(INSERT_COLLECTION).bind(id.0.as_str()).bind(c.0.as_str()).bind(account.0)).await?;
    }
    for user in &a.favourites {
        conn.execute(Stmt::new(INSERT_FAVOURITE).bind(id.0.as_str()).bind(user.0.as_str()).bind(account.0)).await?;
    }
    index_metadata(conn, asset, rows).await
}

/// The metadata side rows of `asset`, from its metadata (with its creation time).
pub(crate) async fn index_metadata(conn: &mut impl Conn, asset: &Asset, rows: Rows) -> Result<()> {
    let id = asset.id.0.as_str();
    if rows == Rows::Replace {
        conn.execute(Stmt::new(DELETE_METADATA).bind(id)).await?;
    }
    for (key, value) in &asset.metadata {
        let stmt = Stmt::new(INSERT_METADATA)
            .bind(id)
            .bind(asset.account.0)
            .bind(key.as_str())
            .bind(value.as_str())
            .bind(asset.created_at);
        conn.execute(stmt).await?;
    }
    Ok(())
}

/// The folder side rows of `asset` (migration 0009): one per folder its path lies in, at any
/// depth, with its creation time; written whenever an asset gets a path (insert, move, import)
/// or, were it ever to change, a creation time. A delete cascades.
pub(crate) async fn index_folders(conn: &mut impl Conn, asset: &Asset, rows: Rows) -> Result<()> {
    let id = asset.id.0.as_str();
    if rows == Rows::Replace {
        conn.execute(Stmt::new(DELETE_FOLDERS).bind(id)).await?;
    }
    for folder in super::chain(&asset.path) {
        let stmt = Stmt::new(INSERT_FOLDER).bind(id).bind(asset.account.0).bind(folder).bind(asset.created_at);
        conn.execute(stmt).await?;
    }
    Ok(())
}
