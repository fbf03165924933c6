//! Collections ([`CollectionStore`]). Membership is on the assets (their `collection_ids` and
//! the `asset_collections` side table); deleting a collection takes it out of each of them.

use super::Store;
use super::attributes::{Rows, write_attributes};
use crate::engine::Engine;
use crate::rows::{AssetRow, CollectionRow};
use crate::sql::{Conn, Stmt, int};
use assetlib_core::model::{Asset, Collection, Millis};
use assetlib_core::ports::CollectionStore;
use assetlib_core::{AccountId, Code, CollectionId, Error, ErrorKind, Result};
use async_trait::async_trait;
use std::collections::HashMap;

const INSERT_COLLECTION: &str =
    "INSERT INTO collections (id, account_id, name, description, created_at, last_modified, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
const GET_COLLECTION: &str = "SELECT id, account_id, name, description, created_at, last_modified, created_by
     FROM collections WHERE account_id = $1 AND id = $2";
const COLLECTIONS_PAGE: &str = "SELECT id, account_id, name, description, created_at, last_modified, created_by
     FROM collections WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3";
const UPDATE_COLLECTION: &str =
    "UPDATE collections SET name = COALESCE($1, name), description = COALESCE($2, description),
       last_modified = $3
     WHERE account_id = $4 AND id = $5
     RETURNING id, account_id, name, description, created_at, last_modified, created_by";
const ALL_COLLECTIONS: &str = "SELECT id, account_id, name, description, created_at, last_modified, created_by
     FROM collections ORDER BY id LIMIT $1 OFFSET $2";
const DELETE_COLLECTION: &str = "DELETE FROM collections WHERE account_id = $1 AND id = $2";

#[async_trait]
impl<E: Engine> CollectionStore for Store<E> {
    async fn create_collection(&self, c: &Collection) -> Result<()> {
        let stmt = Stmt::new(INSERT_COLLECTION)
            .bind(c.id.0.as_str())
            .bind(c.account.0)
            .bind(c.name.as_str())
            .bind(c.description.as_str())
            .bind(c.created_at)
            .bind(c.last_modified)
            .bind(c.created_by.as_ref().map(|u| u.0.clone()));
        self.engine.write().await?.execute(stmt).await.map_err(|e| match e {
            e if e.kind == ErrorKind::Conflict => {
                Error::conflict(Code::Conflict, format!("Collection {} exists already.", c.id))
            }
            e => e,
        })?;
        Ok(())
    }

    async fn get_collection(&self, account: AccountId, id: &CollectionId) -> Result<Option<Collection>> {
        let stmt = Stmt::new(GET_COLLECTION).bind(account.0).bind(id.0.as_str());
        let row: Option<CollectionRow> = self.engine.read().await?.fetch_optional(stmt).await?;
        Ok(row.map(Collection::from))
    }

    async fn list_collections(
        &self,
        account: AccountId,
        after: Option<&CollectionId>,
        limit: usize,
    ) -> Result<Vec<Collection>> {
        let after = after.map_or("", |id| id.0.as_str());
        let stmt = Stmt::new(COLLECTIONS_PAGE).bind(account.0).bind(after).bind(int(limit));
        let rows: Vec<CollectionRow> = self.engine.read().await?.fetch_all(stmt).await?;
        Ok(rows.into_iter().map(Collection::from).collect())
    }

    async fn update_collection(
        &self,
        account: AccountId,
        id: &CollectionId,
        name: Option<&str>,
        description: Option<&str>,
        now: Millis,
    ) -> Result<Option<Collection>> {
        let stmt = Stmt::new(UPDATE_COLLECTION)
            .bind(name.map(str::to_owned))
            .bind(description.map(str::to_owned))
            .bind(now)
            .bind(account.0)
            .bind(id.0.as_str());
        let row: Option<CollectionRow> = self.engine.write().await?.fetch_optional(stmt).await?;
        Ok(row.map(Collection::from))
    }

    async fn collections_of(&self, accounts: Option<&[AccountId]>, skip: u64, limit: usize) -> Result<Vec<Collection>> {
        let stmt = match accounts {
            Some(accounts) => Stmt::new(E::COLLECTIONS_OF)
                .bind(E::int_list(accounts.iter().map(|a| a.0).collect()))
                .bind(int(limit))
                .bind(int(skip)),
            None => Stmt::new(ALL_COLLECTIONS).bind(int(limit)).bind(int(skip)),
        };
        let rows: Vec<CollectionRow> = self.engine.read().await?.fetch_all(stmt).await?;
        Ok(rows.into_iter().map(Collection::from).collect())
    }

    async fn collections_by_ids(&self, ids: &[CollectionId]) -> Result<Vec<Collection>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let stmt = Stmt::new(E::COLLECTIONS_BY_IDS).bind(E::id_list(ids.iter().map(|c| c.0.clone()).collect()));
        let rows: Vec<CollectionRow> = self.engine.read().await?.fetch_all(stmt).await?;
        Ok(rows.into_iter().map(Collection::from).collect())
    }

    async fn collection_sizes(&self, account: AccountId, ids: &[CollectionId]) -> Result<HashMap<CollectionId, u64>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let list = E::id_list(ids.iter().map(|c| c.0.clone()).collect());
        let stmt = Stmt::new(E::COLLECTION_SIZES).bind(account.0).bind(list);
        let rows: Vec<(String, i64)> = self.engine.read().await?.fetch_all(stmt).await?;
        Ok(rows.into_iter().map(|(id, n)| (CollectionId(id), u64::try_from(n).unwrap_or(0))).collect())
    }

    async fn delete_collection(&self, account: AccountId, id: &CollectionId) -> Result<bool> {
        self.engine
            .retrying(|| {
                Box::pin(async move {
                    let mut tx = self.engine.begin().await?;
                    // The collection first: a writer adding an asset to it holds it (see
                    // `COLLECTIONS_IN`) until it commits, so the members read next include
                    // that asset, and no writer adds one after.
                    let lock = Stmt::new(E::COLLECTION_FOR_DELETE).bind(account.0).bind(id.0.as_str());
                    if tx.fetch_optional::<(String,)>(lock).await?.is_none() {
                        return Ok(false);
                    }
                    // Then its members, in id order (the lock order of asset rows by id).
                    let members: Vec<AssetRow> =
                        tx.fetch_all(Stmt::new(E::COLLECTION_MEMBERS).bind(id.0.as_str())).await?;
                    for member in members {
                        let mut asset = Asset::from(member);
                        asset.attributes.collection_ids.retain(|c| c != id);
                        write_attributes(&mut *tx, &asset, Rows::Replace).await?;
                    }
                    let deleted = tx.execute(Stmt::new(DELETE_COLLECTION).bind(account.0).bind(id.0.as_str())).await?;
                    E::commit(tx).await?;
                    Ok(deleted == 1)
                })
            })
            .await
    }
}
