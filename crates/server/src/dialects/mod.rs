//! One module per API dialect, each with its own routes, auth and error body.

pub mod clinch;
pub mod jivox;

use assetlib_core::AccountId;

/// An account id from a path segment: a positive integer.
pub(crate) fn parse_account_id(raw: &str) -> Option<AccountId> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).map(AccountId)
}

/// ISO-8601 UTC to the second: `2025-08-04T09:28:14Z`.
pub(crate) fn iso_seconds(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
