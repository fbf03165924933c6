//! Assets, by key: lookups, metadata and marks (archived, sensitive), copy and move, deletes
//! (one, or many at once), flat (optionally recursive) listings, and the assets public URLs
//! serve with their content.

use super::Library;
use super::folders::folder_not_found;
use crate::Code;
use crate::auth::{Access, Principal};
use crate::cursor::page_size;
use crate::error::{Error, ErrorKind, Result};
use crate::ids::{AccountId, AssetId};
use crate::model::{Asset, Metadata, now_millis};
use crate::ports::Content;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::ops::Range;

/// At most this many keys in one bulk delete.
pub const MAX_BULK_KEYS: usize = 1000;
pub use crate::model::{MAX_METADATA_ENTRIES, MAX_METADATA_KEY, MAX_METADATA_VALUE};

/// A page of assets and the token for the next one.
#[derive(Debug, Clone)]
pub struct AssetPage {
    pub assets: Vec<Asset>,
    pub next: Option<String>,
}

pub fn asset_not_found(key: &str) -> Error {
    Error::not_found(Code::AssetNotFound, format!("Asset '{key}' does not exist."))
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
        Ok(self.copy_or_move(who, account, from, to, overwrite, false).await?.0)
    }

    /// Moves the asset at `from` to `to` in one transaction (of concurrent moves of one source,
    /// one wins; the others find no source). The asset keeps its id, attributes and counters.
    pub async fn move_asset(
        &self,
        who: &Principal,
        account: AccountId,
        from: &str,
        to: &str,
        overwrite: bool,
    ) -> Result<Asset> {
        Ok(self.copy_or_move(who, account, from, to, overwrite, true).await?.0)
    }

    /// Copies the asset `id` of `account` to the key `to`; also says whether it replaced an
    /// asset there (only with `overwrite`).
    pub async fn copy_asset_by_id(
        &self,
        who: &Principal,
        account: AccountId,
        id: &AssetId,
        to: &str,
        overwrite: bool,
    ) -> Result<(Asset, bool)> {
        let source = self.asset_in(who, account, id).await?;
        self.copy_or_move(who, account, &source.key(), to, overwrite, false).await
    }

    /// Renames or moves the asset `id` of `account` to the key `to`, which must be free. It
    /// keeps its id.
    pub async fn rename_asset(&self, who: &Principal, account: AccountId, id: &AssetId, to: &str) -> Result<Asset> {
        self.authorize(who, account, Access::Write).await?;
        let source = self.asset_in(who, account, id).await?;
        let to = self.config.rules.key(to)?;
        if (source.path.as_str(), source.name.as_str()) == (to.path.as_str(), to.name.as_str()) {
            return Err(Error::invalid(Code::SameKey, "The source and destination keys are the same."));
        }
        let moved = self.meta.move_asset_by_id(account, id, (&to.path, &to.name), now_millis()).await?;
        self.wake.notify_one();
        moved.ok_or_else(|| super::attributes::asset_id_not_found(id))
    }

    /// Deletes the asset `id` of `account`, wherever it is (a concurrent rename never makes
    /// this delete another asset).
    pub async fn delete_asset_by_id(&self, who: &Principal, account: AccountId, id: &AssetId) -> Result<()> {
        self.authorize(who, account, Access::Write).await?;
        self.asset_in(who, account, id).await?;
        if !self.meta.delete_asset_by_id(account, id, now_millis()).await? {
            return Err(super::attributes::asset_id_not_found(id));
        }
        self.wake.notify_one();
        Ok(())
    }

    /// The asset `id` if it is `account`'s and `who` may read it; `NotFound` otherwise.
    pub async fn asset_in(&self, who: &Principal, account: AccountId, id: &AssetId) -> Result<Asset> {
        let asset = self.asset_by_id(who, id).await?;
        if asset.account != account {
            return Err(super::attributes::asset_id_not_found(id));
        }
        Ok(asset)
    }

    async fn copy_or_move(
        &self,
        who: &Principal,
        account: AccountId,
        from: &str,
        to: &str,
        overwrite: bool,
        remove_source: bool,
    ) -> Result<(Asset, bool)> {
        self.authorize(who, account, Access::Write).await?;
        let from = self.config.rules.lookup_key(from)?;
        let to = self.config.rules.key(to)?;
        if from == to {
            return Err(Error::invalid(Code::SameKey, "The source and destination keys are the same."));
        }
        let new_id = AssetId::generate();
        let copy = self
            .meta
            .copy_asset(
                account,
                (&from.path, &from.name),
                (&to.path, &to.name),
                overwrite,
                remove_source,
                &new_id,
                Some(&who.user),
                now_millis(),
            )
            .await?
            .ok_or_else(|| asset_not_found(&from.key()))?;
        self.wake.notify_one();
        // A replaced asset keeps its own id; a moved one keeps the source's.
        let replaced = !remove_source && copy.id != new_id;
        Ok((copy, replaced))
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
        let limit = page_size(limit);
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

    /// Archives or un-archives, marks or clears as sensitive, the asset at `key`. Archived and
    /// sensitive assets are not served at public URLs.
    pub async fn set_asset_marks(
        &self,
        who: &Principal,
        account: AccountId,
        key: &str,
        archived: Option<bool>,
        sensitive: Option<bool>,
    ) -> Result<Asset> {
        self.authorize(who, account, Access::Write).await?;
        let key = self.config.rules.lookup_key(key)?;
        self.meta
            .set_asset_marks(account, &key.path, &key.name, archived, sensitive, now_millis())
            .await?
            .ok_or_else(|| Error::not_found(Code::AssetNotFound, "Asset not found."))
    }

    /// Deletes the file `name` in `folder`; deleting what does not exist succeeds.
    pub async fn delete_file(&self, who: &Principal, account: AccountId, folder: &str, name: &str) -> Result<bool> {
        self.authorize(who, account, Access::Write).await?;
        let key = self.config.rules.lookup_key_in(folder, name)?;
        self.remove_asset(account, &key).await
    }

    /// Deletes the asset at a validated key (the caller has checked access); `false` if there
    /// was none. Wakes a worker for the blob's deletion job.
    pub(crate) async fn remove_asset(&self, account: AccountId, key: &crate::rules::AssetKey) -> Result<bool> {
        let deleted = self.meta.delete_asset(account, &key.path, &key.name, now_millis()).await?;
        if deleted {
            self.wake.notify_one();
        }
        Ok(deleted)
    }

    /// The asset a public URL names, if it may be served: the account is public and the asset
    /// neither archived nor sensitive. Everything else is `NotFound`, with no hint why.
    pub async fn public_asset(&self, account: AccountId, key: &str) -> Result<Asset> {
        let not_found = || Error::not_found(Code::FileNotFound, "File not found.");
        let key = self.config.rules.lookup_key(key).map_err(|_| not_found())?;
        let (acct, asset) =
            self.meta.get_account_and_asset(account, &key.path, &key.name).await?.ok_or_else(not_found)?;
        let asset = asset.filter(|_| acct.public).ok_or_else(not_found)?;
        if asset.archived_at.is_some() || asset.sensitive_at.is_some() {
            return Err(not_found());
        }
        Ok(asset)
    }

    /// The content of an asset, or a range of it.
    pub async fn read_content(&self, asset: &Asset, range: Option<Range<u64>>) -> Result<Content> {
        self.blobs.get(&asset.blob, range).await.map_err(|e| match e.kind {
            // The row names a blob that is gone: a defect, not the caller's fault.
            ErrorKind::NotFound => Error::internal(format!("blob {} of asset {} is missing", asset.blob, asset.id)),
            _ => e,
        })
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
