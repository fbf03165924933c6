//! Signed links: short-lived URLs that serve one version of one asset without credentials,
//! whatever the account's public flag (SPEC 5.5). A link carries its claims (account, asset,
//! version, disposition, expiry, and the id of the key that signed it) and an HMAC-SHA256 of
//! them; verification recomputes the MAC in constant time before it reads a claim, so a
//! tampered link is refused without revealing anything about the asset it names.

use crate::Code;
use crate::error::{Error, Result};
use crate::ids::{AccountId, AssetId};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The longest a link may live (S3's limit for presigned URLs too).
pub const MAX_LINK_SECS: u64 = 7 * 24 * 3600;
/// What a link lives unless told otherwise.
pub const DEFAULT_LINK_SECS: u64 = 300;

/// How a browser is to handle the content: shown, or saved under the asset's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Disposition {
    #[serde(rename = "i")]
    Inline,
    #[serde(rename = "a")]
    Attachment,
}

/// What a link grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    #[serde(rename = "c")]
    pub account: AccountId,
    #[serde(rename = "a")]
    pub asset: AssetId,
    #[serde(rename = "v")]
    pub version: String,
    #[serde(rename = "d")]
    pub disposition: Disposition,
    /// Unix seconds after which the link no longer works.
    #[serde(rename = "e")]
    pub expires: i64,
    /// The id of the key that signed it.
    #[serde(rename = "k")]
    pub key_id: String,
}

/// A server's signing key. Servers that share a library must share it (see
/// `docs/decisions.md`); its id, a digest of the secret, lets them check that they do without
/// revealing it.
#[derive(Clone)]
pub struct SigningKey {
    secret: Vec<u8>,
    id: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("id", &self.id).finish_non_exhaustive()
    }
}

/// The error every refused link gets: the same for a forged, altered, expired or foreign one.
pub fn link_refused() -> Error {
    Error::forbidden("This link is not valid or has expired.")
}

impl SigningKey {
    /// A key from a secret of at least 32 bytes.
    pub fn new(secret: &[u8]) -> Result<Self> {
        if secret.len() < 32 {
            return Err(Error::invalid(Code::FieldInvalid, "A signing secret must be at least 32 bytes long."));
        }
        let id = hex::encode(&Sha256::digest([b"assetlib signing key id\0".as_slice(), secret].concat())[..8]);
        Ok(Self { secret: secret.to_vec(), id })
    }

    /// A new random key (32 bytes).
    pub fn generate() -> Self {
        let secret: [u8; 32] = rand::random();
        Self::new(&secret).unwrap_or_else(|_| unreachable!("32 bytes is enough"))
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn mac(&self, payload: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.secret).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
        mac.update(b"v1.");
        mac.update(payload.as_bytes());
        mac
    }

    /// The CSRF token of the web UI session whose secret is `session`: its MAC, URL-safe. Not a
    /// link's (no link payload holds a `:`).
    pub fn csrf_token(&self, session: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(&format!("csrf:{session}")).finalize().into_bytes())
    }

    /// Whether `token` is the CSRF token of `session`, compared in constant time.
    pub fn csrf_ok(&self, session: &str, token: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(token) else { return false };
        self.mac(&format!("csrf:{session}")).verify_slice(&tag).is_ok()
    }

    /// The token of a link: the claims and their MAC, URL-safe.
    pub fn sign(&self, claims: &LinkClaims) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let tag = URL_SAFE_NO_PAD.encode(self.mac(&payload).finalize().into_bytes());
        format!("{payload}.{tag}")
    }

    /// The claims of `token` if this key signed it and it has not expired at `now` (Unix
    /// seconds); [`link_refused`] otherwise.
    pub fn verify(&self, token: &str, now: i64) -> Result<LinkClaims> {
        let (payload, tag) = token.split_once('.').ok_or_else(link_refused)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| link_refused())?;
        self.mac(payload).verify_slice(&tag).map_err(|_| link_refused())?;
        let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| link_refused())?;
        let claims: LinkClaims = serde_json::from_slice(&bytes).map_err(|_| link_refused())?;
        if claims.key_id != self.id || claims.expires < now {
            return Err(link_refused());
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn claims(expires: i64) -> LinkClaims {
        LinkClaims {
            account: AccountId(1),
            asset: AssetId("abc".into()),
            version: "original".into(),
            disposition: Disposition::Attachment,
            expires,
            key_id: String::new(),
        }
    }

    fn signed(key: &SigningKey, expires: i64) -> String {
        key.sign(&LinkClaims { key_id: key.id().to_owned(), ..claims(expires) })
    }

    #[test]
    fn a_link_works_until_it_expires() {
        let key = SigningKey::generate();
        let token = signed(&key, 1_000);
        assert_eq!(key.verify(&token, 999).unwrap().asset, AssetId("abc".into()));
        assert_eq!(key.verify(&token, 1_000).unwrap().version, "original");
        assert_eq!(key.verify(&token, 1_001).unwrap_err().message, link_refused().message);
    }

    #[test]
    fn another_key_or_a_changed_claim_is_refused() {
        let key = SigningKey::generate();
        let token = signed(&key, 1_000);
        assert!(SigningKey::generate().verify(&token, 0).is_err(), "another server's key");
        let (payload, tag) = token.split_once('.').unwrap();
        // Longer life, another asset, another account: each changes the payload, not the MAC.
        for forged in [
            LinkClaims { key_id: key.id().to_owned(), ..claims(9_999) },
            LinkClaims { key_id: key.id().to_owned(), asset: AssetId("xyz".into()), ..claims(1_000) },
            LinkClaims { key_id: key.id().to_owned(), account: AccountId(2), ..claims(1_000) },
        ] {
            let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
            assert!(key.verify(&format!("{payload}.{tag}"), 0).is_err());
        }
        assert!(key.verify(payload, 0).is_err(), "no MAC");
        assert!(key.verify(&format!("{payload}."), 0).is_err(), "an empty MAC");
        assert!(key.verify(&format!("{payload}.{}", &tag[..tag.len() - 2]), 0).is_err(), "a cut MAC");
        // A MAC made with the right key over claims naming another key id is refused too.
        let other = key.sign(&LinkClaims { key_id: "someone".into(), ..claims(1_000) });
        assert!(key.verify(&other, 0).is_err());
    }

    #[test]
    fn secrets_are_long_and_key_ids_reveal_nothing_of_them() {
        assert!(SigningKey::new(&[7u8; 31]).is_err());
        let a = SigningKey::new(&[7u8; 32]).unwrap();
        assert_eq!(a.id(), SigningKey::new(&[7u8; 32]).unwrap().id(), "the same secret, the same id");
        assert_ne!(a.id(), SigningKey::new(&[8u8; 32]).unwrap().id());
        assert!(!format!("{a:?}").contains("secret"));
    }

    proptest! {
        #[test]
        fn garbage_is_refused_not_panicking(raw in "\\PC{0,200}") {
            let key = SigningKey::new(&[1u8; 32]).unwrap();
            prop_assert!(key.verify(&raw, 0).is_err());
        }

        #[test]
        fn any_flipped_character_is_refused(pos in 0usize..400, with in "[A-Za-z0-9_-]") {
            let key = SigningKey::new(&[1u8; 32]).unwrap();
            let token = signed(&key, i64::MAX);
            let mut chars: Vec<char> = token.chars().collect();
            let pos = pos % chars.len();
            let replacement = with.chars().next().unwrap();
            prop_assume!(chars[pos] != replacement && chars[pos] != '.');
            chars[pos] = replacement;
            let tampered: String = chars.into_iter().collect();
            prop_assert!(key.verify(&tampered, 0).is_err());
        }
    }
}
