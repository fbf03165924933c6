//! Test support (feature `testing`): a fresh, empty PostgreSQL database per test, on the server
//! that `ASSETLIB_TEST_POSTGRES_URL` names, so that PostgreSQL tests run in parallel and never
//! see each other's rows.

use sqlx::{Connection, Executor, PgConnection, Row};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The environment variable naming a PostgreSQL server (any database on it) whose role may
/// `CREATE DATABASE`, e.g. `postgres://assetlib:assetlib@127.0.0.1:5432/postgres`.
pub const POSTGRES_URL_VAR: &str = "ASSETLIB_TEST_POSTGRES_URL";

const PREFIX: &str = "assetlib_test_";
/// Databases that tests left behind (a failed test does not drop its own) are dropped once
/// they are this old.
const STALE_AFTER: Duration = Duration::from_secs(6 * 3600);

/// The URL of a new, empty database on the test server, or `None` when
/// `ASSETLIB_TEST_POSTGRES_URL` is unset: the test should then return (a line on stderr says
/// it was skipped). In CI (`CI` set) a skipped PostgreSQL case is a failure, so this panics.
pub async fn fresh_postgres_url() -> Option<String> {
    let Some(base) = std::env::var(POSTGRES_URL_VAR).ok().filter(|u| !u.is_empty()) else {
        if std::env::var_os("CI").is_some() {
            panic!("{POSTGRES_URL_VAR} is not set: in CI a skipped PostgreSQL test is a failure");
        }
        eprintln!("skipped: {POSTGRES_URL_VAR} is not set, so this PostgreSQL test did not run");
        return None;
    };
    let mut conn = PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {POSTGRES_URL_VAR} ({}): {e}", redact(&base)));
    drop_stale(&mut conn).await;
    let name = format!("{PREFIX}{}_{}", unix_secs(), hex(rand::random::<u64>()));
    // A default collation that does not sort byte-wise (as a production database in
    // en_US.UTF-8 would not), so that a text column missing its COLLATE "C" fails the tests.
    // Servers built without ICU get the server's default.
    let icu = format!("CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'");
    if conn.execute(sqlx::AssertSqlSafe(icu)).await.is_err() {
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
    }
    let _ = conn.close().await;
    Some(with_database(&base, &name))
}

/// Drops a database made by [`fresh_postgres_url`] (its connections are closed by force).
/// Failures are only reported: a leftover is dropped by a later run once it is stale.
pub async fn drop_database(url: &str) {
    let Some(name) = database_of(url).filter(|n| is_test_database(n)) else {
        eprintln!("not a test database URL, not dropped: {}", redact(url));
        return;
    };
    let Ok(base) = std::env::var(POSTGRES_URL_VAR) else { return };
    let drop = async || -> Result<(), sqlx::Error> {
        let mut conn = PgConnection::connect(&base).await?;
        conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await?;
        conn.close().await
    };
    // A pool that is still opening a connection as the test ends can make the first try fail.
    if drop().await.is_err() {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if let Err(e) = drop().await {
            eprintln!("could not drop test database {name}: {e}");
        }
    }
}

async fn drop_stale(conn: &mut PgConnection) {
    let Ok(rows) = sqlx::query("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
        .bind(PREFIX)
        .fetch_all(&mut *conn)
        .await
    else {
        return;
    };
    let now = unix_secs();
    for row in rows {
        let name: String = row.get(0);
        let created = name[PREFIX.len()..].split('_').next().and_then(|s| s.parse::<u64>().ok());
        if is_test_database(&name) && created.is_some_and(|t| now.saturating_sub(t) > STALE_AFTER.as_secs()) {
            let _ = conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await;
        }
    }
}

/// Only names this module makes (prefix, digits, '_', hex) are ever put into SQL.
fn is_test_database(name: &str) -> bool {
    name.strip_prefix(PREFIX).is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b'_')
    })
}

fn unix_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn hex(n: u64) -> String {
    format!("{n:016x}")
}

/// `scheme://authority` and the rest (`/database?query`) of a URL.
fn split_url(url: &str) -> (&str, &str) {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..].find(['/', '?']).map_or(url.len(), |i| start + i);
    url.split_at(end)
}

/// `url` with its database replaced by `database`, its query kept.
fn with_database(url: &str, database: &str) -> String {
    let (head, rest) = split_url(url);
    let query = rest.find('?').map_or("", |i| &rest[i..]);
    format!("{head}/{database}{query}")
}

fn database_of(url: &str) -> Option<&str> {
    let (_, rest) = split_url(url);
    let path = rest.split('?').next().unwrap_or_default();
    path.strip_prefix('/').filter(|d| !d.is_empty())
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    let (head, rest) = split_url(url);
    match (head.find("://"), head.rfind('@')) {
        (Some(s), Some(at)) if head[s + 3..at].contains(':') => {
            let user_end = s + 3 + head[s + 3..at].find(':').unwrap_or(0);
            format!("{}:***{}{rest}", &head[..user_end], &head[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_their_database_replaced() {
        let base = "postgres://u:p@127.0.0.1:5432/postgres?sslmode=prefer";
        assert_eq!(with_database(base, "x"), "postgres://u:p@127.0.0.1:5432/x?sslmode=prefer");
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
        assert_eq!(with_database("postgresql://h:1?a=b", "x"), "postgresql://h:1/x?a=b");
        assert_eq!(database_of("postgres://h/assetlib_test_1_ab?a=b"), Some("assetlib_test_1_ab"));
        assert_eq!(database_of("postgres://h"), None);
        assert_eq!(redact(base), "postgres://u:***@127.0.0.1:5432/postgres?sslmode=prefer");
        assert!(is_test_database("assetlib_test_1700000000_00ff") && !is_test_database("assetlib_test_x; DROP"));
    }
}
