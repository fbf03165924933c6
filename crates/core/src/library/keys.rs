//! API keys managed by an account's owners: list the keys of the account's members, create a
//! key (for the caller, restricted to the account; its secret shown once), revoke one. And when
//! a key was last used, recorded at most once a minute per key without slowing the request.

use super::Library;
use crate::Code;
use crate::auth::{Access, Principal, new_api_key};
use crate::cursor::page_size;
use crate::error::{Error, Result};
use crate::ids::AccountId;
use crate::model::{ApiKeyInfo, NewApiKey, now_millis};
use std::time::{Duration, Instant};

/// Longest key name, in characters.
pub const MAX_KEY_NAME: usize = 128;
/// A key's last use is written at most this often.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// A page of keys; `next` is the `after` of the next page.
#[derive(Debug, Clone)]
pub struct ApiKeyPage {
    pub items: Vec<ApiKeyInfo>,
    pub next: Option<String>,
}

impl Library {
    /// The keys of `account`'s members that reach it, in id order after `after`. Owners only.
    pub async fn api_keys(
        &self,
        who: &Principal,
        account: AccountId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ApiKeyPage> {
        self.authorize(who, account, Access::Manage).await?;
        let limit = page_size(limit).max(1);
        let mut items = self.meta.list_api_keys(account, after.unwrap_or(""), limit + 1).await?;
        let next = (items.len() > limit).then(|| items[limit - 1].id.clone());
        items.truncate(limit);
        Ok(ApiKeyPage { items, next })
    }

    /// A new key for the caller, restricted to `account`; returns it and its secret, which is
    /// never shown again. Owners only.
    pub async fn create_key(
        &self,
        who: &Principal,
        account: AccountId,
        name: &str,
        read_only: bool,
    ) -> Result<(ApiKeyInfo, String)> {
        self.authorize(who, account, Access::Manage).await?;
        if name.trim().is_empty() || name.chars().count() > MAX_KEY_NAME || name.chars().any(char::is_control) {
            return Err(Error::invalid(
                Code::FieldInvalid,
                format!("A key name is 1 to {MAX_KEY_NAME} characters, none a control character."),
            )
            .with_param("name"));
        }
        let (secret, hash) = new_api_key();
        let key = NewApiKey {
            id: NewApiKey::generate_id(),
            name: name.to_owned(),
            user: who.user.clone(),
            hash,
            account: Some(account),
            read_only,
            created_at: now_millis(),
        };
        self.meta.create_api_key(&key).await?;
        let info = ApiKeyInfo {
            id: key.id,
            name: key.name,
            user: key.user,
            account: key.account,
            read_only,
            created_at: key.created_at,
            last_used_at: None,
        };
        Ok((info, secret))
    }

    /// Revokes the key `id` of a member of `account`: it stops working at once on this server
    /// and within the lookup cache's time on others. Owners only.
    pub async fn revoke_key(&self, who: &Principal, account: AccountId, id: &str) -> Result<()> {
        self.authorize(who, account, Access::Manage).await?;
        match self.meta.delete_api_key(account, id).await? {
            Some(_) => Ok(()),
            None => Err(Error::not_found(Code::KeyNotFound, format!("Key '{id}' does not exist."))),
        }
    }

    /// Records the use of the key with this hash, at most once a minute per key and server,
    /// in the background: a failure is logged, never the request's.
    pub(crate) fn touch_key(&self, hash: &str) {
        let due = match self.touched.lock() {
            Ok(mut touched) => {
                let due = touched.get(hash).is_none_or(|at| at.elapsed() >= TOUCH_EVERY);
                if due {
                    if touched.len() > 100_000 {
                        touched.clear();
                    }
                    touched.insert(hash.to_owned(), Instant::now());
                }
                due
            }
            Err(_) => false,
        };
        if due && let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let meta = self.meta.clone();
            let hash = hash.to_owned();
            runtime.spawn(async move {
                if let Err(e) = meta.touch_api_key(&hash, now_millis()).await {
                    tracing::warn!(error = %e, "could not record a key's last use");
                }
            });
        }
    }
}
