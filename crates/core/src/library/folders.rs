//! Folders: one-level listings (subfolders and files, paged by cursor), explicit folders, the
//! list of a folder's subfolders, and folder deletes (with or without what they hold).

use super::Library;
use crate::Code;
use crate::auth::{Access, Principal};
use crate::cursor::{Cursor, page_size};
use crate::error::{Error, Result};
use crate::ids::AccountId;
use crate::model::{Entry, FolderDelete, now_millis};

/// A page of a one-level listing.
#[derive(Debug, Clone)]
pub struct Listing {
    pub folder: String,
    pub entries: Vec<Entry>,
    pub next: Option<String>,
}

impl Listing {
    /// The first `limit` of `entries` (read one past it), with the cursor after the last of
    /// them when there are more.
    fn page(folder: String, mut entries: Vec<Entry>, limit: usize) -> Self {
        let next = if entries.len() > limit {
            entries.truncate(limit);
            entries.last().map(|e| Cursor { name: e.name().to_owned(), folder: e.is_folder() }.encode())
        } else {
            None
        };
        Listing { folder, entries, next }
    }
}

pub fn folder_not_found(folder: &str) -> Error {
    Error::not_found(Code::FolderNotFound, format!("Folder '{folder}' does not exist."))
}

impl Library {
    pub async fn list_folder(
        &self,
        who: &Principal,
        account: AccountId,
        folder: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Listing> {
        let limit = page_size(limit);
        self.authorize(who, account, Access::Read).await?;
        let folder = self.config.rules.folder(folder)?;
        let after = cursor.map(|c| Cursor::decode(c, "nextKey")).transpose()?;
        let entries = self.meta.list_folder(account, &folder, after.as_ref(), limit + 1).await?;
        Ok(Listing::page(folder, entries, limit))
    }

    /// As [`Library::list_folder`], but a folder that does not exist is `NotFound` (the root
    /// always exists); with `folders_only`, its child folders alone (what a folder tree
    /// shows), paged by the same cursor.
    pub async fn tree(
        &self,
        who: &Principal,
        account: AccountId,
        folder: &str,
        cursor: Option<&str>,
        limit: usize,
        folders_only: bool,
    ) -> Result<Listing> {
        self.authorize(who, account, Access::Read).await?;
        let path = self.config.rules.folder(folder)?;
        if !path.is_empty() && !self.meta.folder_exists(account, &path).await? {
            return Err(folder_not_found(&path));
        }
        if !folders_only {
            return self.list_folder(who, account, &path, cursor, limit).await;
        }
        let limit = page_size(limit);
        let after = cursor.map(|c| Cursor::decode(c, "nextKey")).transpose()?;
        let after = after.map(|c| c.name).unwrap_or_default();
        let names = self.meta.list_subfolders(account, &path, &after, limit + 1).await?;
        Ok(Listing::page(path, names.into_iter().map(Entry::Folder).collect(), limit))
    }

    /// Creates an explicit folder, which persists while empty. `Conflict` if it exists.
    pub async fn create_folder(&self, who: &Principal, account: AccountId, folder: &str) -> Result<String> {
        self.authorize(who, account, Access::Write).await?;
        let folder = self.config.rules.folder(folder)?;
        if folder.is_empty() {
            return Err(Error::invalid(Code::FolderRequired, "A folder name is required."));
        }
        if !self.meta.create_folder(account, &folder, now_millis()).await? {
            return Err(Error::conflict(Code::FolderExists, format!("Folder '{folder}' already exists.")));
        }
        Ok(folder)
    }

    /// Deletes `folder` and everything under it; deleting what does not exist succeeds.
    pub async fn delete_folder(&self, who: &Principal, account: AccountId, folder: &str) -> Result<u64> {
        self.authorize(who, account, Access::Write).await?;
        let folder = self.config.rules.folder(folder)?;
        if folder.is_empty() {
            return Err(Error::invalid(Code::PathRequired, "Parameter 'path' is required."));
        }
        let n = self.meta.delete_folder(account, &folder, now_millis()).await?;
        if n > 0 {
            self.wake.notify_one();
        }
        Ok(n)
    }

    /// The names of `folder`'s child folders, in name order. `NotFound` for a folder that does
    /// not exist (the root always does).
    pub async fn subfolders(&self, who: &Principal, account: AccountId, folder: &str) -> Result<Vec<String>> {
        self.authorize(who, account, Access::Read).await?;
        let folder = self.config.rules.folder(folder)?;
        if !folder.is_empty() && !self.meta.folder_exists(account, &folder).await? {
            return Err(folder_not_found(&folder));
        }
        let mut names: Vec<String> = vec![];
        loop {
            let after = names.last().map_or("", String::as_str);
            let page = self.meta.list_subfolders(account, &folder, after, 1000).await?;
            let done = page.len() < 1000;
            names.extend(page);
            if done {
                return Ok(names);
            }
        }
    }

    /// Deletes `folder`: with `with_assets`, everything below it; without, only if it is
    /// empty (else `Conflict`). `NotFound` if it does not exist. Returns the assets deleted.
    pub async fn remove_folder(
        &self,
        who: &Principal,
        account: AccountId,
        folder: &str,
        with_assets: bool,
    ) -> Result<u64> {
        self.authorize(who, account, Access::Write).await?;
        let folder = self.config.rules.folder(folder)?;
        if folder.is_empty() {
            return Err(Error::invalid(Code::FolderRequired, "A folder other than the root is required."));
        }
        if !with_assets {
            return match self.meta.delete_empty_folder(account, &folder).await? {
                FolderDelete::Deleted => Ok(0),
                FolderDelete::Missing => Err(folder_not_found(&folder)),
                FolderDelete::NotEmpty => {
                    Err(Error::conflict(Code::FolderNotEmpty, format!("Folder '{folder}' is not empty.")))
                }
            };
        }
        if !self.meta.folder_exists(account, &folder).await? {
            return Err(folder_not_found(&folder));
        }
        let n = self.meta.delete_folder(account, &folder, now_millis()).await?;
        self.wake.notify_one();
        Ok(n)
    }
}
