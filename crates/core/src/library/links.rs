//! Signed links (SPEC 5.4 `links`, 5.5, Hivo's download): made for any member of the account,
//! served to anyone who holds one until it expires, whatever the account's public flag or the
//! asset's marks. Where the blob store has URLs of its own (S3), a link is the store's presigned
//! URL; else it is the server's `/signed/{token}`, signed with the key all servers of the
//! library share ([`Library::register_signing_key`] checks that they do).

use super::Library;
use super::attributes::asset_id_not_found;
use crate::Code;
use crate::auth::{Access, Principal};
use crate::error::{Error, Result};
use crate::ids::{AccountId, AssetId};
use crate::model::{Asset, ORIGINAL, Rendition, now_millis};
use crate::ports::SignedResponse;
use crate::signing::{Disposition, LinkClaims, MAX_LINK_SECS, link_refused};
use std::time::Duration;

/// The setting that names the key the library's links are signed with.
const SIGNING_KEY_SETTING: &str = "signing_key_id";

/// Where a signed link points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkTarget {
    /// A URL of the blob store itself (an S3 presigned URL), absolute.
    Store(String),
    /// The server's own link: `/signed/{token}` under the server's public base URL.
    Server(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedLink {
    pub target: LinkTarget,
    /// Unix milliseconds after which it no longer works.
    pub expires_at: i64,
}

/// The `Content-Disposition` of a version served under a link.
pub fn content_disposition(disposition: Disposition, file_name: &str) -> String {
    let kind = match disposition {
        Disposition::Inline => "inline",
        Disposition::Attachment => "attachment",
    };
    // An ASCII fallback, and the name itself as RFC 8187 UTF-8.
    let fallback: String = file_name
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let encoded: String = file_name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

impl Library {
    /// Registers this server's signing key with the library, or checks it against the one
    /// registered: servers whose keys differ would make links that the others refuse, so a
    /// server that differs refuses to start.
    pub async fn register_signing_key(&self) -> Result<()> {
        let ours = self.config.signing.id();
        let registered = self.meta.setting_or_insert(SIGNING_KEY_SETTING, ours).await?;
        if registered != ours {
            return Err(Error::invalid(
                Code::FieldInvalid,
                format!(
                    "This server's signing key (id {ours}) differs from the one the other servers of this library \
                     sign links with (id {registered}). Give every server the same signing_secret \
                     (ASSETLIB_SIGNING_SECRET)."
                ),
            ));
        }
        Ok(())
    }

    /// A link to `version` of the asset `id` of `account` that works for `expires_in` (the
    /// configured lifetime if `None`; 1 second to 7 days). Any member may make one.
    pub async fn signed_link(
        &self,
        who: &Principal,
        account: AccountId,
        id: &AssetId,
        version: &str,
        expires_in: Option<u64>,
        disposition: Disposition,
    ) -> Result<SignedLink> {
        self.authorize(who, account, Access::Read).await?;
        let secs = expires_in.unwrap_or(self.config.signed_link_ttl.as_secs());
        if !(1..=MAX_LINK_SECS).contains(&secs) {
            return Err(Error::invalid(Code::FieldInvalid, format!("A link lives 1 to {MAX_LINK_SECS} seconds."))
                .with_param("expiresIn"));
        }
        let asset = self.meta.get_asset_by_id(id).await?.filter(|a| a.account == account);
        let asset = asset.ok_or_else(|| asset_id_not_found(id))?;
        let rendition = self.version_of(&asset, version, || no_such_version(id, version)).await?;
        self.link_to(&asset, rendition.as_ref(), secs, disposition).await
    }

    /// A link to `asset` (or to its `rendition`) for `secs` seconds, for a caller who may read
    /// it: what [`Library::signed_link`] makes once it has found them, and what a page of
    /// assets with a link each uses without finding each again.
    pub async fn link_to(
        &self,
        asset: &Asset,
        rendition: Option<&Rendition>,
        secs: u64,
        disposition: Disposition,
    ) -> Result<SignedLink> {
        let expires_at = now_millis().saturating_add(i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000));
        let (blob, content_type, name) = match &rendition {
            Some(r) => (&r.blob, r.content_type.clone(), r.file_name(&asset.name)),
            None => (&asset.blob, asset.content_type.clone(), asset.name.clone()),
        };
        let response = SignedResponse {
            content_type: Some(content_type),
            content_disposition: Some(content_disposition(disposition, &name)),
            cache_control: Some(format!("private, max-age={secs}")),
        };
        if let Some(url) = self.blobs.signed_get(blob, Duration::from_secs(secs), &response).await? {
            return Ok(SignedLink { target: LinkTarget::Store(url), expires_at });
        }
        let claims = LinkClaims {
            account: asset.account,
            asset: asset.id.clone(),
            version: rendition.map_or(ORIGINAL, |r| r.version.as_str()).to_owned(),
            disposition,
            expires: expires_at / 1000,
            key_id: self.config.signing.id().to_owned(),
        };
        Ok(SignedLink { target: LinkTarget::Server(self.config.signing.sign(&claims)), expires_at })
    }

    /// The asset, claims and version (`None`: the original) a server link grants, if it is
    /// this library's, unexpired, and its asset still exists in its account with that version;
    /// [`link_refused`] otherwise, the same for every cause.
    pub async fn open_signed(&self, token: &str) -> Result<(Asset, LinkClaims, Option<Rendition>)> {
        let claims = self.config.signing.verify(token, now_millis() / 1000)?;
        let asset = self.meta.get_asset_by_id(&claims.asset).await?.filter(|a| a.account == claims.account);
        let Some(asset) = asset else { return Err(link_refused()) };
        let rendition = self.version_of(&asset, &claims.version, link_refused).await?;
        Ok((asset, claims, rendition))
    }
}

/// The 404 for a version an asset does not have.
pub fn no_such_version(id: &AssetId, version: &str) -> Error {
    Error::not_found(Code::AssetNotFound, format!("Asset '{id}' has no version '{version}'.")).with_param("version")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_keep_any_name_safe() {
        assert_eq!(
            content_disposition(Disposition::Attachment, "a b.png"),
            "attachment; filename=\"a b.png\"; filename*=UTF-8''a%20b.png"
        );
        let odd = content_disposition(Disposition::Inline, "é\"\\\r\n;.png");
        assert_eq!(odd, "inline; filename=\"_____;.png\"; filename*=UTF-8''%C3%A9%22%5C%0D%0A%3B.png");
        assert!(odd.chars().all(|c| c.is_ascii() && !c.is_ascii_control()));
    }
}
