//! Changing an asset's attributes (tags, SKUs, metadata, collections, batch, approval, marks,
//! expiry, licence expiry, favourites) by its id, and reading it by id, for every dialect.
//!
//! Favouriting is personal: any member of the account may favourite (viewers too), with a key
//! that is not read-only; every other change needs the editor role. An asset of an account the
//! caller does not reach is not found, never forbidden: ids do not reveal what exists.

use super::Library;
use super::assets::check_metadata;
use crate::Code;
use crate::auth::{Access, Principal};
use crate::error::{Error, ErrorKind, Result};

use crate::ids::{AccountId, AssetId};
use crate::model::{Asset, AssetPatch, now_millis};

/// At most this many tags, SKUs or collections on one asset.
pub const MAX_LIST_ITEMS: usize = 100;
/// Longest tag or SKU, in characters (Hivo's `filter[sku]` bound).
pub const MAX_TAG: usize = 128;
/// Longest batch id, in characters (Hivo's `filter[batchId]` bound).
pub const MAX_BATCH_ID: usize = 256;

fn invalid(param: &str, message: String) -> Error {
    Error::invalid(Code::AttributeInvalid, message).with_param(param)
}

/// A list of tags or SKUs: at most [`MAX_LIST_ITEMS`] values, each non-empty after trimming, at
/// most [`MAX_TAG`] characters and free of control characters.
fn check_labels(param: &str, what: &str, values: &[String]) -> Result<()> {
    if values.len() > MAX_LIST_ITEMS {
        return Err(invalid(param, format!("An asset may have at most {MAX_LIST_ITEMS} {what}s.")));
    }
    for v in values {
        if v.trim().is_empty() {
            return Err(invalid(param, format!("A {what} may not be empty.")));
        }
        if v.chars().count() > MAX_TAG {
            return Err(invalid(param, format!("A {what} may be at most {MAX_TAG} characters long.")));
        }
        if v.chars().any(char::is_control) {
            return Err(invalid(param, format!("The {what} '{}' contains a control character.", v.escape_debug())));
        }
    }
    Ok(())
}

/// Checks a patch's values against the limits, naming the parameter at fault.
pub fn check_patch(patch: &AssetPatch) -> Result<()> {
    if let Some(tags) = &patch.tags {
        check_labels("tags", "tag", tags)?;
    }
    if let Some(skus) = &patch.skus {
        check_labels("skus", "SKU", skus)?;
    }
    if let Some(metadata) = &patch.metadata {
        check_metadata(metadata).map_err(|e| e.with_param("metadata"))?;
    }
    if let Some(merge) = &patch.metadata_merge {
        // The values it sets; the count after the merge is checked under the row lock.
        let set = merge.iter().filter_map(|(k, v)| Some((k.clone(), v.clone()?))).collect();
        check_metadata(&set).map_err(|e| e.with_param("metadata"))?;
    }
    if let Some(ids) = &patch.collection_ids
        && ids.len() > MAX_LIST_ITEMS
    {
        return Err(invalid("collectionIds", format!("An asset may be in at most {MAX_LIST_ITEMS} collections.")));
    }
    if let Some(Some(batch)) = &patch.batch_id
        && (batch.trim().is_empty() || batch.chars().count() > MAX_BATCH_ID || batch.chars().any(char::is_control))
    {
        return Err(invalid(
            "batchId",
            format!("A batch id is 1 to {MAX_BATCH_ID} characters, none a control character."),
        ));
    }
    for (param, at) in [("expiresAt", patch.expires_at), ("licenseExpiresAt", patch.license_expires_at)] {
        if let Some(Some(at)) = at
            && at < 0
        {
            return Err(invalid(param, "A time may not be before 1970.".into()));
        }
    }
    Ok(())
}

/// Whether `patch` changes nothing but the caller's favourite.
fn only_favourite(patch: &AssetPatch) -> bool {
    AssetPatch { favourite: None, if_match: None, ..patch.clone() } == AssetPatch::default()
}

impl Library {
    /// The asset `id` if `who` may read it; `NotFound` otherwise, whether it exists or not.
    pub async fn asset_by_id(&self, who: &Principal, id: &AssetId) -> Result<Asset> {
        let asset = self.meta.get_asset_by_id(id).await?.ok_or_else(|| asset_id_not_found(id))?;
        match self.authorize(who, asset.account, Access::Read).await {
            Ok(_) => Ok(asset),
            Err(e) if matches!(e.kind, ErrorKind::Forbidden | ErrorKind::NotFound) => Err(asset_id_not_found(id)),
            Err(e) => Err(e),
        }
    }

    /// Applies `patch` to the asset `id` of `account` and returns it as stored. The favourite
    /// it sets or clears is the caller's, whatever user the patch names.
    pub async fn update_asset(
        &self,
        who: &Principal,
        account: AccountId,
        id: &AssetId,
        mut patch: AssetPatch,
    ) -> Result<Asset> {
        if only_favourite(&patch) {
            self.authorize(who, account, Access::Read).await?;
            if who.read_only {
                return Err(Error::forbidden("This API key is read-only."));
            }
        } else {
            self.authorize(who, account, Access::Write).await?;
        }
        if let Some((user, _)) = &mut patch.favourite {
            *user = who.user.clone();
        }
        check_patch(&patch)?;
        self.meta.update_asset(account, id, &patch, now_millis()).await?.ok_or_else(|| asset_id_not_found(id))
    }
}

pub fn asset_id_not_found(id: &AssetId) -> Error {
    Error::not_found(Code::AssetNotFound, format!("Asset '{id}' does not exist."))
}
