//! sqlx errors as core errors: an unreachable or timing-out database is `Unavailable`, a unique
//! violation `Conflict`, anything else `Internal` (logged once, never shown).
//!
//! PostgreSQL adds one more case: a deadlock or serialization failure aborts a transaction that
//! would succeed if run again. It becomes `Unavailable` with the code [`CONTENTION`], which the
//! PostgreSQL engine retries before it ever reaches a client.

use assetlib_core::Code;
use assetlib_core::{Error, ErrorKind};
use sqlx::postgres::PgDatabaseError;

/// The code of an error that running the same transaction again may cure.
pub(crate) const CONTENTION: Code = Code::DatabaseContention;

pub(crate) fn contention() -> Error {
    Error::new(ErrorKind::Unavailable, CONTENTION, "The database is busy; try again shortly.")
}

pub(crate) fn db(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => Error::unavailable("database", e),
        sqlx::Error::Database(d) if d.is_unique_violation() => Error::conflict(Code::Conflict, "It exists already."),
        sqlx::Error::Database(d) if d.try_downcast_ref::<PgDatabaseError>().is_some() => {
            let code = d.code().unwrap_or_default();
            match pg_class(&code) {
                PgClass::Retry => {
                    tracing::debug!(error = %e, "transaction aborted by a concurrent one");
                    contention()
                }
                PgClass::Unavailable => Error::unavailable("database", e),
                PgClass::Other => Error::internal(e),
            }
        }
        sqlx::Error::Database(d) if d.code().as_deref() == Some("5") || d.code().as_deref() == Some("6") => {
            // SQLITE_BUSY / SQLITE_LOCKED after the busy timeout.
            Error::unavailable("database", e)
        }
        _ => Error::internal(e),
    }
}

enum PgClass {
    /// The transaction lost a race and may simply be run again.
    Retry,
    /// The server is going away, refusing connections, out of resources or cancelled the
    /// statement (statement_timeout): try again later.
    Unavailable,
    Other,
}

fn pg_class(sqlstate: &str) -> PgClass {
    match sqlstate {
        // serialization_failure, deadlock_detected
        "40001" | "40P01" => PgClass::Retry,
        // query_canceled (statement or lock timeout), lock_not_available, admin/crash shutdown,
        // cannot_connect_now, database_dropped, idle_session_timeout
        "57014" | "55P03" | "57P01" | "57P02" | "57P03" | "57P04" | "57P05" => PgClass::Unavailable,
        // connection exceptions (08), insufficient resources (53: too many connections, disk
        // full, out of memory), operator intervention, system errors (58: I/O)
        s if s.starts_with("08") || s.starts_with("53") || s.starts_with("58") => PgClass::Unavailable,
        _ => PgClass::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_codes_are_classified() {
        assert!(matches!(pg_class("40P01"), PgClass::Retry));
        assert!(matches!(pg_class("40001"), PgClass::Retry));
        assert!(matches!(pg_class("08006"), PgClass::Unavailable));
        assert!(matches!(pg_class("53300"), PgClass::Unavailable));
        assert!(matches!(pg_class("57P01"), PgClass::Unavailable));
        assert!(matches!(pg_class("42601"), PgClass::Other));
    }
}
