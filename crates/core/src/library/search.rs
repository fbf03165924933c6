//! Searching assets, for every dialect: the caller's scope resolved to accounts, the bounds and
//! the owner-only filters checked, and a page with the cursor to the next.

use super::Library;
use crate::Code;
use crate::auth::{Access, Principal};
use crate::cursor::page_size;
use crate::error::{Error, Result};
use crate::model::now_millis;
use crate::search::{AssetQuery, MAX_IDS, MAX_SKIP, Paging, Scope, SearchCursor, SearchPage};

impl Library {
    /// Runs `query`. Its scope is what the dialect asks for: `Scope::All` is every account the
    /// caller reaches (every account for a platform admin's unrestricted key); named accounts
    /// must each be reachable, else `Forbidden`. The owner-only filters need the owner role in
    /// every account searched, else `Forbidden`. A page holds at most the core's page size.
    pub async fn search_assets(&self, who: &Principal, mut query: AssetQuery) -> Result<SearchPage> {
        query.scope = match query.scope {
            Scope::All => match who.reachable() {
                None => Scope::All,
                Some(accounts) if accounts.is_empty() => return Ok(SearchPage { assets: vec![], next: None }),
                Some(accounts) => Scope::Accounts(accounts),
            },
            Scope::Accounts(accounts) => {
                if accounts.is_empty() {
                    return Err(Error::invalid(Code::QueryInvalid, "No account to search.").with_param("account"));
                }
                for account in &accounts {
                    self.authorize(who, *account, Access::Read).await?;
                }
                Scope::Accounts(accounts)
            }
        };
        if query.uses_owner_filters() {
            let owner = match &query.scope {
                Scope::All => who.admin,
                Scope::Accounts(accounts) => accounts.iter().all(|a| who.is_owner_of(*a)),
            };
            if !owner {
                return Err(Error::forbidden(
                    "The sensitive, archived and licence filters need the owner role in every account searched.",
                ));
            }
        }
        if query.ids.len() > MAX_IDS {
            return Err(Error::invalid(Code::QueryInvalid, format!("At most {MAX_IDS} ids.")).with_param("id"));
        }
        if let Paging::Skip(n) = query.paging
            && n > MAX_SKIP
        {
            return Err(
                Error::invalid(Code::QueryInvalid, format!("skip may be at most {MAX_SKIP}.")).with_param("skip")
            );
        }
        let limit = page_size(query.limit).max(1);
        let sort = query.sort;
        // One more than the page, to know whether another follows.
        query.limit = limit + 1;
        let mut assets = self.meta.search_assets(&query, now_millis()).await?;
        let more = assets.len() > limit;
        assets.truncate(limit);
        let next = if more { assets.last().map(|a| SearchCursor::after(a, sort)) } else { None };
        Ok(SearchPage { assets, next })
    }
}
