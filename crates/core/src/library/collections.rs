//! Collections: named sets of an account's assets. Members read them; editors create, rename
//! and delete them. Assets join and leave through their `collection_ids` (see
//! [`super::attributes`]).

use super::Library;
use crate::Code;
use crate::auth::{Access, Principal};
use crate::cursor::page_size;
use crate::error::{Error, Result};
use crate::ids::{AccountId, CollectionId};
use crate::model::{Collection, now_millis};

/// Longest collection name and description, in characters.
pub const MAX_COLLECTION_NAME: usize = 256;
pub const MAX_COLLECTION_DESCRIPTION: usize = 4096;

fn check(name: Option<&str>, description: Option<&str>) -> Result<()> {
    if let Some(name) = name
        && (name.trim().is_empty() || name.chars().count() > MAX_COLLECTION_NAME || name.chars().any(char::is_control))
    {
        return Err(Error::invalid(
            Code::CollectionInvalid,
            format!("A collection name is 1 to {MAX_COLLECTION_NAME} characters, none a control character."),
        )
        .with_param("name"));
    }
    if let Some(description) = description
        && description.chars().count() > MAX_COLLECTION_DESCRIPTION
    {
        return Err(Error::invalid(
            Code::CollectionInvalid,
            format!("A collection description may be at most {MAX_COLLECTION_DESCRIPTION} characters long."),
        )
        .with_param("description"));
    }
    Ok(())
}

/// A page of collections with their sizes; `next` is the `after` of the next page.
#[derive(Debug, Clone)]
pub struct CollectionPage {
    pub items: Vec<(Collection, u64)>,
    pub next: Option<CollectionId>,
}

pub fn collection_not_found(id: &CollectionId) -> Error {
    Error::not_found(Code::CollectionNotFound, format!("Collection '{id}' does not exist."))
}

impl Library {
    pub async fn create_collection(
        &self,
        who: &Principal,
        account: AccountId,
        name: &str,
        description: &str,
    ) -> Result<Collection> {
        self.authorize(who, account, Access::Write).await?;
        check(Some(name), Some(description))?;
        let now = now_millis();
        let collection = Collection {
            id: CollectionId::generate(),
            account,
            name: name.to_owned(),
            description: description.to_owned(),
            created_at: now,
            last_modified: now,
            created_by: Some(who.user.clone()),
        };
        self.meta.create_collection(&collection).await?;
        Ok(collection)
    }

    pub async fn collection(&self, who: &Principal, account: AccountId, id: &CollectionId) -> Result<Collection> {
        self.authorize(who, account, Access::Read).await?;
        self.meta.get_collection(account, id).await?.ok_or_else(|| collection_not_found(id))
    }

    /// A page of `account`'s collections in id order after `after` (at most the core's page
    /// size), each with its size, and where the next page starts.
    pub async fn collections(
        &self,
        who: &Principal,
        account: AccountId,
        after: Option<&CollectionId>,
        limit: usize,
    ) -> Result<CollectionPage> {
        self.authorize(who, account, Access::Read).await?;
        let limit = page_size(limit).max(1);
        let mut items = self.meta.list_collections(account, after, limit + 1).await?;
        let next = (items.len() > limit).then(|| items[limit - 1].id.clone());
        items.truncate(limit);
        let ids: Vec<CollectionId> = items.iter().map(|c| c.id.clone()).collect();
        let sizes = self.meta.collection_sizes(account, &ids).await?;
        let items = items
            .into_iter()
            .map(|c| {
                let size = sizes.get(&c.id).copied().unwrap_or(0);
                (c, size)
            })
            .collect();
        Ok(CollectionPage { items, next })
    }

    pub async fn update_collection(
        &self,
        who: &Principal,
        account: AccountId,
        id: &CollectionId,
        name: Option<&str>,
        description: Option<&str>,
    ) -> Result<Collection> {
        self.authorize(who, account, Access::Write).await?;
        check(name, description)?;
        self.meta
            .update_collection(account, id, name, description, now_millis())
            .await?
            .ok_or_else(|| collection_not_found(id))
    }

    /// The collections of the accounts the caller reaches (only `account`'s when given, which
    /// must be reachable), in id order, `skip` of them skipped, at most the core's page size.
    pub async fn collections_in_reach(
        &self,
        who: &Principal,
        account: Option<AccountId>,
        skip: u64,
        limit: usize,
    ) -> Result<Vec<Collection>> {
        if skip > crate::search::MAX_SKIP {
            let msg = format!("skip may be at most {}.", crate::search::MAX_SKIP);
            return Err(Error::invalid(Code::QueryInvalid, msg).with_param("skip"));
        }
        let limit = page_size(limit).max(1);
        let accounts = match account {
            Some(account) => {
                self.authorize(who, account, Access::Read).await?;
                Some(vec![account])
            }
            None => who.reachable(),
        };
        self.meta.collections_of(accounts.as_deref(), skip, limit).await
    }

    /// The collection `id`, in whatever account the caller reaches; `NotFound` otherwise.
    pub async fn collection_by_id(&self, who: &Principal, id: &CollectionId) -> Result<Collection> {
        let found = self.meta.collections_by_ids(std::slice::from_ref(id)).await?.pop();
        match found {
            Some(c) if who.reaches(c.account) && self.authorize(who, c.account, Access::Read).await.is_ok() => Ok(c),
            _ => Err(collection_not_found(id)),
        }
    }

    /// The collections among `ids` that the caller reaches (to name an asset's collections).
    pub async fn collections_named(&self, who: &Principal, ids: &[CollectionId]) -> Result<Vec<Collection>> {
        let found = self.meta.collections_by_ids(ids).await?;
        Ok(found.into_iter().filter(|c| who.reaches(c.account)).collect())
    }

    /// How many assets the collection holds.
    pub async fn collection_size(&self, who: &Principal, account: AccountId, id: &CollectionId) -> Result<u64> {
        self.authorize(who, account, Access::Read).await?;
        let sizes = self.meta.collection_sizes(account, std::slice::from_ref(id)).await?;
        Ok(sizes.get(id).copied().unwrap_or(0))
    }

    /// Deletes the collection; its assets stay, out of it.
    pub async fn delete_collection(&self, who: &Principal, account: AccountId, id: &CollectionId) -> Result<()> {
        self.authorize(who, account, Access::Write).await?;
        if self.meta.delete_collection(account, id).await? { Ok(()) } else { Err(collection_not_found(id)) }
    }
}
