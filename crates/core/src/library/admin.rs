//! Administration by the operator (the command line): accounts, users with their first API
//! key, and the bootstrap of an empty store.

use super::Library;
use crate::Code;
use crate::auth::new_api_key;
use crate::error::{Error, ErrorKind, Result};
use crate::ids::{AccountId, UserId};
use crate::model::{Account, NewApiKey, Role, User, now_millis};

/// Credentials made for a new user: shown once.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewCredentials {
    #[serde(rename = "userId")]
    pub user_id: UserId,
    #[serde(rename = "apiKey")]
    pub api_key: String,
}

impl Library {
    /// Creates an account; `public` says whether its files are served at public URLs.
    pub async fn create_account(&self, id: AccountId, name: &str, public: bool) -> Result<Account> {
        if id.0 <= 0 {
            return Err(Error::invalid(Code::AccountInvalid, "Account id must be a positive integer."));
        }
        let account = Account { id, name: name.to_owned(), public, created_at: now_millis() };
        self.meta.create_account(&account).await?;
        Ok(account)
    }

    /// Creates a user with `role` in `account` and an unrestricted API key for it.
    pub async fn create_user(&self, name: &str, admin: bool, account: AccountId, role: Role) -> Result<NewCredentials> {
        if self.meta.get_account(account).await?.is_none() {
            return Err(Error::not_found(Code::AccountNotFound, format!("Account {account} not found.")));
        }
        let now = now_millis();
        let user = User { id: UserId::generate(), name: name.to_owned(), admin, created_at: now };
        self.meta.create_user(&user, &[(account, role)]).await?;
        let (secret, hash) = new_api_key();
        self.meta
            .create_api_key(&NewApiKey {
                id: NewApiKey::generate_id(),
                name: "initial".into(),
                user: user.id.clone(),
                hash,
                account: None,
                read_only: false,
                created_at: now,
            })
            .await?;
        Ok(NewCredentials { user_id: user.id, api_key: secret })
    }

    /// On an empty store: account 1 and an owner user for it. `None` if the store has accounts.
    pub async fn bootstrap(&self) -> Result<Option<(Account, NewCredentials)>> {
        if self.meta.account_count().await? > 0 {
            return Ok(None);
        }
        // Servers starting together on an empty shared store race here; the loser finds the
        // account made and leaves the rest to the winner.
        let account = match self.create_account(AccountId(1), "Default", true).await {
            Err(e) if e.kind == ErrorKind::Conflict => return Ok(None),
            other => other?,
        };
        let creds = self.create_user("owner", false, account.id, Role::Owner).await?;
        Ok(Some((account, creds)))
    }
}
