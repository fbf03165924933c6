//! Who is calling and what they may do. Every dialect's authentication produces a
//! [`Principal`]; every core operation checks it.

use crate::error::{Error, Result};
use crate::ids::{AccountId, UserId};
use crate::model::Role;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    /// Owner-only operations (key management, sensitive/archived/license filters).
    Manage,
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub user: UserId,
    pub name: String,
    /// Platform admin: reaches every account.
    pub admin: bool,
    pub roles: HashMap<AccountId, Role>,
    /// The key is restricted to this account.
    pub key_account: Option<AccountId>,
    pub read_only: bool,
}

impl Principal {
    /// The role this principal holds in `account`, ignoring key restrictions.
    fn role_in(&self, account: AccountId) -> Option<Role> {
        if self.admin { Some(Role::Owner) } else { self.roles.get(&account).copied() }
    }

    /// Whether this principal holds the owner role in `account` (through this key), whether or
    /// not the key is read-only: what the owner-only search filters need.
    pub fn is_owner_of(&self, account: AccountId) -> bool {
        self.reaches(account) && self.role_in(account) == Some(Role::Owner)
    }

    /// The accounts this key reaches, in id order; `None` for a platform admin's unrestricted
    /// key, which reaches every account.
    pub fn reachable(&self) -> Option<Vec<AccountId>> {
        if self.admin && self.key_account.is_none() {
            return None;
        }
        let mut accounts: Vec<AccountId> = match self.key_account {
            Some(a) => vec![a].into_iter().filter(|a| self.reaches(*a)).collect(),
            None => self.roles.keys().copied().collect(),
        };
        accounts.sort_by_key(|a| a.0);
        Some(accounts)
    }

    /// Whether the account is reachable at all with this key.
    pub fn reaches(&self, account: AccountId) -> bool {
        self.key_account.is_none_or(|a| a == account) && self.role_in(account).is_some()
    }

    /// Checks `access` to `account`; the error is `Forbidden` with a message for the caller.
    /// Whether this principal may narrow a search to an account named by a filter rather than
    /// by the route (Hivo's `filter[clientId]`): platform administrators only, `Forbidden` for
    /// anyone else, whatever their role in that account.
    pub fn check_account_filter(&self) -> Result<()> {
        if self.admin { Ok(()) } else { Err(Error::forbidden("Filtering by client is for platform administrators.")) }
    }

    pub fn check(&self, account: AccountId, access: Access) -> Result<()> {
        if !self.reaches(account) {
            return Err(Error::forbidden(format!("Access to account {account} is not allowed.")));
        }
        let role = self.role_in(account).unwrap_or(Role::Viewer);
        let allowed = match access {
            Access::Read => true,
            Access::Write => !self.read_only && role >= Role::Editor,
            Access::Manage => !self.read_only && role >= Role::Owner,
        };
        if allowed {
            Ok(())
        } else if self.read_only {
            Err(Error::forbidden("This API key is read-only."))
        } else {
            Err(Error::forbidden(format!("Your role in account {account} does not allow this operation.")))
        }
    }
}

/// A new API key: the secret to show once, and the hash to store.
pub fn new_api_key() -> (String, String) {
    let secret = format!("alk_{}", hex::encode(rand::random::<[u8; 24]>()));
    let hash = hash_api_key(&secret);
    (secret, hash)
}

pub fn hash_api_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role) -> Principal {
        Principal {
            user: UserId("u".into()),
            name: "u".into(),
            admin: false,
            roles: HashMap::from([(AccountId(1), role)]),
            key_account: None,
            read_only: false,
        }
    }

    #[test]
    fn roles_and_key_restrictions() {
        let viewer = principal(Role::Viewer);
        assert!(viewer.check(AccountId(1), Access::Read).is_ok());
        assert!(viewer.check(AccountId(1), Access::Write).is_err());
        assert!(viewer.check(AccountId(2), Access::Read).is_err());
        let editor = principal(Role::Editor);
        assert!(editor.check(AccountId(1), Access::Write).is_ok());
        assert!(editor.check(AccountId(1), Access::Manage).is_err());
        let owner = principal(Role::Owner);
        assert!(owner.check(AccountId(1), Access::Manage).is_ok());
        let read_only = Principal { read_only: true, ..owner.clone() };
        assert_eq!(read_only.check(AccountId(1), Access::Write).unwrap_err().message, "This API key is read-only.");
        let pinned = Principal { key_account: Some(AccountId(2)), admin: true, ..owner };
        assert!(pinned.check(AccountId(1), Access::Read).is_err());
        assert!(pinned.check(AccountId(2), Access::Write).is_ok());
    }

    #[test]
    fn keys_hash_stably_and_differ() {
        let (a, ha) = new_api_key();
        let (b, hb) = new_api_key();
        assert_ne!(a, b);
        assert_ne!(ha, hb);
        assert_eq!(hash_api_key(&a), ha);
        assert!(!ha.contains(&a));
    }
}
