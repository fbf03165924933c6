//! sqlx errors as core errors: an unreachable or timing-out database is `Unavailable`, a unique
//! violation `Conflict`, anything else `Internal` (logged once, never shown).

use assetlib_core::Error;

pub(crate) fn db(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => Error::unavailable("database", e),
        sqlx::Error::Database(d) if d.is_unique_violation() => Error::conflict("conflict", "It exists already."),
        sqlx::Error::Database(d) if d.code().as_deref() == Some("5") || d.code().as_deref() == Some("6") => {
            // SQLITE_BUSY / SQLITE_LOCKED after the busy timeout.
            Error::unavailable("database", e)
        }
        _ => Error::internal(e),
    }
}
