//! Newtype identifiers. Opaque ids are random and URL-safe; account ids are integers, as the
//! vendor APIs have them.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(pub i64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

macro_rules! string_id {
    ($name:ident) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(UserId);
string_id!(AssetId);
string_id!(QueueId);
string_id!(BlobKey);
string_id!(CollectionId);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub i64);

/// 32 lowercase hex characters from 128 random bits.
pub fn random_hex32() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

impl AssetId {
    pub fn generate() -> Self {
        Self(random_hex32())
    }
}

impl CollectionId {
    pub fn generate() -> Self {
        Self(format!("col_{}", random_hex32()))
    }
}

impl UserId {
    pub fn generate() -> Self {
        Self(format!("usr_{}", hex::encode(rand::random::<[u8; 10]>())))
    }
}

impl QueueId {
    pub fn generate() -> Self {
        Self(random_hex32())
    }
    /// Queue ids are exactly 32 lowercase hex characters.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
            .then(|| Self(s.to_owned()))
    }
}

impl BlobKey {
    /// A fresh key for an uploaded file's content. Keys never contain anything a client sent,
    /// so no client input can steer where a blob lands.
    pub fn for_upload(account: AccountId) -> Self {
        let id = random_hex32();
        Self(format!("assets/{account}/{}/{id}", &id[..2]))
    }
    /// The stored zip behind an upload queue entry.
    pub fn for_zip(account: AccountId, queue: &QueueId) -> Self {
        Self(format!("uploads/{account}/{queue}.zip"))
    }
    /// The queue whose zip expansion wrote this blob, for a zip entry's key.
    pub fn zip_entry_queue(&self) -> Option<QueueId> {
        let mut parts = self.0.split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("assets"), Some(_account), Some("z"), Some(queue), Some(_index), None) => QueueId::parse(queue),
            _ => None,
        }
    }

    /// The content of entry `index` of the zip behind `queue`: deterministic, so a re-run of an
    /// interrupted expansion overwrites rather than leaks.
    pub fn for_zip_entry(account: AccountId, queue: &QueueId, index: usize) -> Self {
        Self(format!("assets/{account}/z/{queue}/{index}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_entry_keys_name_their_queue() {
        let queue = QueueId::generate();
        assert_eq!(BlobKey::for_zip_entry(AccountId(7), &queue, 3).zip_entry_queue(), Some(queue.clone()));
        assert_eq!(BlobKey::for_upload(AccountId(7)).zip_entry_queue(), None);
        assert_eq!(BlobKey::for_zip(AccountId(7), &queue).zip_entry_queue(), None);
    }
}
