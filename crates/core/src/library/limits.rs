//! Rate limits (SPEC 5.6): a token bucket per API key over every authenticated route of every
//! dialect, `per_sec` tokens a second up to `burst`. Over it, a request is refused with
//! `RateLimited` and the whole seconds after which one token is back (`Retry-After`). Public
//! files and signed links never authenticate, so they are never limited. Each server keeps its
//! own buckets: with several servers behind a balancer a key gets each server's rate.

use super::Library;
use crate::Code;
use crate::error::{Error, ErrorKind, Result};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;

/// Requests a second per key, and how many may come at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_sec: NonZeroU32,
    pub burst: NonZeroU32,
}

impl RateLimit {
    /// From the configuration: `per_sec` 0 turns limits off; `burst` 0 means `per_sec`.
    pub fn from_config(per_sec: u32, burst: u32) -> Option<Self> {
        let per_sec = NonZeroU32::new(per_sec)?;
        Some(Self { per_sec, burst: NonZeroU32::new(burst).unwrap_or(per_sec) })
    }
}

pub(crate) type KeyLimiter = DefaultKeyedRateLimiter<String>;

pub(crate) fn key_limiter(limit: RateLimit) -> KeyLimiter {
    RateLimiter::keyed(Quota::per_second(limit.per_sec).allow_burst(limit.burst))
}

impl Library {
    /// Takes a token from the bucket of the key with this hash, or refuses the request.
    pub(crate) fn check_rate(&self, key_hash: &str) -> Result<()> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        match limiter.check_key(&key_hash.to_owned()) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                let secs = secs.max(1);
                Err(Error::new(
                    ErrorKind::RateLimited,
                    Code::RateLimited,
                    format!("Too many requests with this API key; retry in {secs} s."),
                )
                .with_retry_after(secs))
            }
        }
    }

    /// Forgets the buckets of keys that are full again (they would allow a burst anyway).
    pub(crate) fn forget_idle_buckets(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_turns_limits_off_and_burst_defaults_to_the_rate() {
        assert_eq!(RateLimit::from_config(0, 10), None);
        let l = RateLimit::from_config(5, 0).unwrap();
        assert_eq!((l.per_sec.get(), l.burst.get()), (5, 5));
        let l = RateLimit::from_config(5, 20).unwrap();
        assert_eq!((l.per_sec.get(), l.burst.get()), (5, 20));
    }

    #[test]
    fn a_bucket_refuses_past_its_burst_with_a_retry_time() {
        let limiter = key_limiter(RateLimit::from_config(1, 2).unwrap());
        let key = "k".to_owned();
        assert!(limiter.check_key(&key).is_ok());
        assert!(limiter.check_key(&key).is_ok());
        assert!(limiter.check_key(&key).is_err());
        assert!(limiter.check_key(&"other".to_owned()).is_ok(), "buckets are per key");
    }
}
