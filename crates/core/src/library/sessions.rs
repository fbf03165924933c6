//! Web UI sessions (SPEC 8). Signing in with an API key gives a random secret, sent back as an
//! HttpOnly cookie; only its SHA-256 is stored, with the key's. Every request that carries it
//! acts as that key does (its rate limit and last use included), until the session ends
//! (`session_ttl` after sign-in), the user signs out, or the key is revoked. Its CSRF token is
//! the signing key's MAC of the secret: no store lookup to check it, and servers of one library
//! agree on it as they do on signed links.

use super::Library;
use crate::auth::{Principal, hash_api_key};
use crate::error::{Error, Result};
use crate::model::{Millis, now_millis};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// How long a session lasts unless configured otherwise: a working day.
pub const DEFAULT_SESSION_SECS: u64 = 12 * 3600;

/// Longer session secrets than this are not looked up (a real one is 43 characters).
const MAX_SECRET_LEN: usize = 128;

/// A session just made: what the client is given.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The cookie's value. Never stored.
    pub secret: String,
    /// What the client sends back in `X-CSRF-Token` with a state-changing request.
    pub csrf: String,
    pub principal: Principal,
    pub expires_at: Millis,
}

fn ended() -> Error {
    Error::unauthenticated("Your session has ended: sign in again.")
}

impl Library {
    /// Signs in with an API key: `Unauthenticated` ("Invalid API key.") for a key that does not
    /// exist, as on every route.
    pub async fn sign_in(&self, key: &str) -> Result<NewSession> {
        let principal = self.authenticate(key).await?;
        let secret = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let now = now_millis();
        let expires_at = now + self.config.session_ttl.as_millis() as i64;
        // The key may be revoked between the two: then there is no session.
        self.meta
            .create_session(&hash_api_key(&secret), &hash_api_key(key), now, expires_at)
            .await
            .map_err(|_| Error::unauthenticated("Invalid API key."))?;
        Ok(NewSession { csrf: self.config.signing.csrf_token(&secret), secret, principal, expires_at })
    }

    /// The caller behind a session's secret, as its key authenticates, and when the session
    /// ends.
    pub async fn session_principal(&self, secret: &str) -> Result<(Principal, Millis)> {
        if secret.is_empty() || secret.len() > MAX_SECRET_LEN {
            return Err(ended());
        }
        let (key, ends) = self.meta.session_key(&hash_api_key(secret), now_millis()).await?.ok_or_else(ended)?;
        let who = self.meta.principal_for_key(&key).await?.ok_or_else(ended)?;
        self.check_rate(&key)?;
        self.touch_key(&key);
        Ok((who, ends))
    }

    /// The CSRF token of the session whose secret is `secret`.
    pub fn csrf_token(&self, secret: &str) -> String {
        self.config.signing.csrf_token(secret)
    }

    /// Whether `token` is the CSRF token of the session whose secret is `secret`.
    pub fn csrf_ok(&self, secret: &str, token: &str) -> bool {
        self.config.signing.csrf_ok(secret, token)
    }

    /// Ends the session whose secret is `secret`; `false` if there was none.
    pub async fn sign_out(&self, secret: &str) -> Result<bool> {
        if secret.len() > MAX_SECRET_LEN {
            return Ok(false);
        }
        self.meta.delete_session(&hash_api_key(secret)).await
    }

    /// Removes the sessions that have ended (they are refused anyway; this keeps the table small).
    pub async fn sweep_sessions(&self) -> Result<u64> {
        self.meta.sweep_sessions(now_millis()).await
    }
}
