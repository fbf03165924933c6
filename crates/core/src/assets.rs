//! Asset operations beyond upload and listing, for every dialect: metadata, copy and move, bulk
//! delete, flat (optionally recursive) asset listings, subfolder lists, strict folder deletes,
//! and uploads of bytes or of a URL's content. (The Clinch dialect brought them.)

use crate::Code;
use crate::auth::{Access, Principal};
use crate::error::{Error, Result};
use crate::ids::{AccountId, AssetId};
use crate::model::{Asset, FolderDelete, Metadata, now_millis};
use crate::ports::ByteStream;
use crate::rules::join;
use crate::service::{Library, Received, Zips};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// At most this many keys in one bulk delete.
pub const MAX_BULK_KEYS: usize = 1000;
/// Metadata limits: entries, key length, value length (characters).
pub const MAX_METADATA_ENTRIES: usize = 100;
pub const MAX_METADATA_KEY: usize = 128;
pub const MAX_METADATA_VALUE: usize = 4096;

/// A page of assets and the token for the next one.
#[derive(Debug, Clone)]
pub struct AssetPage {
    pub assets: Vec<Asset>,
    pub next: Option<String>,
}

pub fn asset_not_found(key: &str) -> Error {
    Error::not_found(Code::AssetNotFound, format!("Asset '{key}' does not exist."))
}

pub fn folder_not_found(folder: &str) -> Error {
    Error::not_found(Code::FolderNotFound, format!("Folder '{folder}' does not exist."))
}

/// Checks metadata against the limits; keys must be non-empty and free of control characters.
pub fn check_metadata(metadata: &Metadata) -> Result<()> {
    let bad = |m: String| Err(Error::invalid(Code::MetadataInvalid, m));
    if metadata.len() > MAX_METADATA_ENTRIES {
        return bad(format!("Metadata may have at most {MAX_METADATA_ENTRIES} entries."));
    }
    for (key, value) in metadata {
        if key.trim().is_empty() {
            return bad("Metadata keys may not be empty.".into());
        }
        if key.chars().count() > MAX_METADATA_KEY {
            return bad(format!("Metadata key '{key}' is longer than {MAX_METADATA_KEY} characters."));
        }
        if key.chars().any(char::is_control) || value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return bad(format!("Metadata entry '{}' contains a control character.", key.escape_debug()));
        }
        if value.chars().count() > MAX_METADATA_VALUE {
            return bad(format!("Metadata value of '{key}' is longer than {MAX_METADATA_VALUE} characters."));
        }
    }
    Ok(())
}

pub(crate) fn encode_token(path: &str, name: &str) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::json!([path, name]).to_string())
}

pub(crate) fn decode_token(raw: &str, what: &str) -> Result<(String, String)> {
    let bad = || Error::invalid(Code::CursorInvalid, format!("Invalid {what}."));
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    serde_json::from_slice::<(String, String)>(&bytes).map_err(|_| bad())
}

impl Library {
    /// The asset at `key`; `NotFound` naming the key if there is none.
    pub async fn find_asset(&self, who: &Principal, account: AccountId, key: &str) -> Result<Asset> {
        self.authorize(who, account, Access::Read).await?;
        let k = self.config.rules.lookup_key(key)?;
        self.meta.get_asset(account, &k.path, &k.name).await?.ok_or_else(|| asset_not_found(&k.key()))
    }

    /// Replaces the metadata of the asset at `key`.
    pub async fn set_metadata(
        &self,
        who: &Principal,
        account: AccountId,
        key: &str,
        metadata: Metadata,
    ) -> Result<Asset> {
        self.authorize(who, account, Access::Write).await?;
        let k = self.config.rules.lookup_key(key)?;
        check_metadata(&metadata)?;
        self.meta
            .set_asset_metadata(account, &k.path, &k.name, &metadata)
            .await?
            .ok_or_else(|| asset_not_found(&k.key()))
    }

    /// Copies the asset at `from` to `to` (same account): content (the same stored blob, no
    /// bytes duplicated) and metadata. An asset at `to` is replaced only with `overwrite`.
    pub async fn copy_asset(
        &self,
        who: &Principal,
        account: AccountId,
        from: &str,
        to: &str,
        overwrite: bool,
    ) -> Result<Asset> {
        self.copy_or_move(who, account, from, to, overwrite, false).await
    }

    /// Moves the asset at `from` to `to`: a copy, then a delete of the source, as one
    /// transaction (of concurrent moves of one source, one wins; the others find no source).
    pub async fn move_asset(
        &self,
        who: &Principal,
        account: AccountId,
        from: &str,
        to: &str,
        overwrite: bool,
    ) -> Result<Asset> {
        self.copy_or_move(who, account, from, to, overwrite, true).await
    }

    async fn copy_or_move(
        &self,
        who: &Principal,
        account: AccountId,
        from: &str,
        to: &str,
        overwrite: bool,
        remove_source: bool,
    ) -> Result<Asset> {
        self.authorize(who, account, Access::Write).await?;
        let from = self.config.rules.lookup_key(from)?;
        let to = self.config.rules.key(to)?;
        if from == to {
            return Err(Error::invalid(Code::SameKey, "The source and destination keys are the same."));
        }
        let copy = self
            .meta
            .copy_asset(
                account,
                (&from.path, &from.name),
                (&to.path, &to.name),
                overwrite,
                remove_source,
                &AssetId::generate(),
                Some(&who.user),
                now_millis(),
            )
            .await?
            .ok_or_else(|| asset_not_found(&from.key()))?;
        self.wake.notify_one();
        Ok(copy)
    }

    /// Deletes the asset at `key`; `NotFound` if there is none.
    pub async fn delete_asset(&self, who: &Principal, account: AccountId, key: &str) -> Result<()> {
        self.authorize(who, account, Access::Write).await?;
        self.delete_key(account, key).await
    }

    /// [`Library::delete_asset`] once access is checked.
    async fn delete_key(&self, account: AccountId, key: &str) -> Result<()> {
        let k = self.config.rules.lookup_key(key)?;
        if !self.remove_asset(account, &k).await? {
            return Err(asset_not_found(&k.key()));
        }
        Ok(())
    }

    /// Deletes each key on its own, in order; one's failure does not stop the others. Access
    /// is checked once for the whole request.
    pub async fn delete_assets(
        &self,
        who: &Principal,
        account: AccountId,
        keys: &[String],
    ) -> Result<Vec<(String, Result<()>)>> {
        self.authorize(who, account, Access::Write).await?;
        if keys.is_empty() {
            return Err(Error::invalid(Code::KeysRequired, "At least one key is required."));
        }
        if keys.len() > MAX_BULK_KEYS {
            return Err(Error::invalid(
                Code::TooManyKeys,
                format!("At most {MAX_BULK_KEYS} keys may be deleted at once."),
            ));
        }
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let result = self.delete_key(account, key).await;
            // A store that is down fails the request, not the item.
            if let Err(e) = &result
                && matches!(e.kind, crate::ErrorKind::Unavailable | crate::ErrorKind::Internal)
            {
                return Err(e.clone());
            }
            out.push((key.clone(), result));
        }
        Ok(out)
    }

    /// Files in `folder` (with `recursive`, at any depth below it), ordered by folder path then
    /// name, `limit` at a time. `NotFound` for a folder that does not exist (the root always
    /// does).
    pub async fn list_assets(
        &self,
        who: &Principal,
        account: AccountId,
        folder: &str,
        recursive: bool,
        token: Option<&str>,
        limit: usize,
    ) -> Result<AssetPage> {
        self.authorize(who, account, Access::Read).await?;
        let folder = self.config.rules.folder(folder)?;
        let after = token.map(|t| decode_token(t, "nextToken")).transpose()?;
        if after.is_none() && !folder.is_empty() && !self.meta.folder_exists(account, &folder).await? {
            return Err(folder_not_found(&folder));
        }
        let after_ref = after.as_ref().map(|(p, n)| (p.as_str(), n.as_str()));
        let mut assets = self.meta.list_assets(account, &folder, recursive, after_ref, limit + 1).await?;
        let next = if assets.len() > limit {
            assets.truncate(limit);
            assets.last().map(|a| encode_token(&a.path, &a.name))
        } else {
            None
        };
        Ok(AssetPage { assets, next })
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

    /// Stores `body` as the asset at `key` (a `.zip` stays one file), with `metadata` if given
    /// (else a replaced asset keeps its own).
    pub async fn put_asset(
        &self,
        who: &Principal,
        account: AccountId,
        key: &str,
        body: ByteStream,
        metadata: Option<Metadata>,
    ) -> Result<Asset> {
        let k = self.config.rules.key(key)?;
        if let Some(m) = &metadata {
            check_metadata(m)?;
        }
        let received = self.receive(who, account, Some(&k.path), &k.name, body, Zips::Keep).await?;
        let outcome = self.commit_upload(received.with_metadata(metadata), &k.path).await?;
        outcome.asset.ok_or_else(|| Error::internal("a single-file upload made no asset"))
    }

    /// Makes content received before its key was known (a body that names the key after the
    /// content, [`Library::receive_unnamed`]) the asset at `key`, with `metadata` if given.
    /// On any error the content is removed.
    pub async fn commit_as(&self, received: Received, key: &str, metadata: Option<Metadata>) -> Result<Asset> {
        let checked = self.config.rules.key(key).and_then(|k| match &metadata {
            Some(m) => check_metadata(m).map(|()| k),
            None => Ok(k),
        });
        let k = match checked {
            Ok(k) => k,
            Err(e) => {
                self.discard(received).await;
                return Err(e);
            }
        };
        let received = received.with_name(&k.name).with_metadata(metadata);
        let outcome = self.commit_upload(received, &k.path).await?;
        outcome.asset.ok_or_else(|| Error::internal("a single-file upload made no asset"))
    }

    /// Drops received content that will not be committed (the request it came with failed).
    /// Its cleanup job removes it later if this delete fails.
    pub async fn discard(&self, received: Received) {
        let _ = self.blobs.delete(received.blob()).await;
    }

    /// Fetches `url` (through the configured fetcher, which refuses unsafe addresses) and
    /// stores its content as the asset at `key`. Access and the key are checked before
    /// anything is fetched.
    pub async fn put_asset_from_url(
        &self,
        who: &Principal,
        account: AccountId,
        key: &str,
        url: &str,
        metadata: Option<Metadata>,
    ) -> Result<Asset> {
        self.authorize(who, account, Access::Write).await?;
        let k = self.config.rules.key(key)?;
        if let Some(m) = &metadata {
            check_metadata(m)?;
        }
        let fetcher = self
            .fetcher
            .as_ref()
            .ok_or_else(|| Error::invalid(Code::UrlUploadsDisabled, "Uploads from a URL are not enabled."))?;
        let fetched = fetcher.fetch(url, self.config.max_upload_size).await?;
        self.put_asset(who, account, &join(&k.path, &k.name), fetched.body, metadata).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let t = encode_token("a/b", "c.png");
        assert_eq!(decode_token(&t, "nextToken").unwrap(), ("a/b".to_owned(), "c.png".to_owned()));
        assert_eq!(decode_token("!!", "nextToken").unwrap_err().message, "Invalid nextToken.");
        assert!(decode_token(&URL_SAFE_NO_PAD.encode("[1]"), "nextToken").is_err());
    }

    #[test]
    fn metadata_limits() {
        let ok: Metadata = [("campaign".to_owned(), "spring".to_owned())].into();
        assert!(check_metadata(&ok).is_ok());
        let empty_key: Metadata = [(" ".to_owned(), "x".to_owned())].into();
        assert_eq!(check_metadata(&empty_key).unwrap_err().code, "metadata_invalid");
        let long: Metadata = [("k".to_owned(), "v".repeat(MAX_METADATA_VALUE + 1))].into();
        assert!(check_metadata(&long).is_err());
        let many: Metadata = (0..=MAX_METADATA_ENTRIES).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(check_metadata(&many).is_err());
    }
}
