//! The two engines' schemas hold the same tables, columns (with their nullability) and indexes,
//! so that a migration written for one engine and forgotten for the other fails here rather
//! than in an API test on one backend. Types differ by engine and are not compared.

mod common;

use sqlx::{Connection, Row};
use std::collections::BTreeSet;

/// `table.column null|not null`, `index table.name`, and `table` lines of a schema.
type Schema = BTreeSet<String>;

/// What one engine has and the other cannot or need not: PostgreSQL's GIN index of every
/// asset's terms (0013), for conjunctions (SQLite has no index of many values a row), and its
/// counts of assets by creation time (0016), for deep offsets (SQLite counts its index faster).
const POSTGRES_ONLY: &[&str] = &[
    "index assets.assets_terms",
    "asset_time_counts",
    "asset_time_counts.account_id not null",
    "asset_time_counts.bucket not null",
    "asset_time_counts.shard not null",
    "asset_time_counts.live not null",
];

/// The bookkeeping tables of the migration runner are not the product's schema.
fn ours(table: &str) -> bool {
    !table.starts_with("_sqlx") && !table.starts_with("sqlite_")
}

async fn sqlite_schema() -> Schema {
    let (_store, dir) = common::sqlite_store().await;
    let url = format!("sqlite://{}", dir.path().join("meta.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let mut schema = Schema::new();
    let tables: Vec<String> = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>("name"))
        .filter(|t| ours(t))
        .collect();
    for table in tables {
        schema.insert(table.clone());
        let columns =
            sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA table_info({table})"))).fetch_all(&mut conn).await.unwrap();
        for c in columns {
            let name: String = c.get("name");
            // A primary key column is NOT NULL on PostgreSQL whatever it says; SQLite lets an
            // INTEGER PRIMARY KEY say nothing.
            let not_null = c.get::<i64, _>("notnull") != 0 || c.get::<i64, _>("pk") != 0;
            schema.insert(format!("{table}.{name} {}", if not_null { "not null" } else { "null" }));
        }
        let indexes =
            sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA index_list({table})"))).fetch_all(&mut conn).await.unwrap();
        for i in indexes {
            // Indexes the engine makes for a primary key or a UNIQUE constraint are named by
            // each engine its own way: only the ones the migrations name are compared.
            if i.get::<String, _>("origin") == "c" {
                schema.insert(format!("index {table}.{}", i.get::<String, _>("name")));
            }
        }
    }
    schema
}

async fn postgres_schema(url: &str) -> Schema {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let mut schema = Schema::new();
    let columns = sqlx::query(
        "SELECT c.table_name::text AS t, c.column_name::text AS c, c.is_nullable::text AS n
         FROM information_schema.columns c JOIN information_schema.tables t
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for c in columns {
        let table: String = c.get("t");
        if !ours(&table) {
            continue;
        }
        schema.insert(table.clone());
        let null = if c.get::<String, _>("n") == "YES" { "null" } else { "not null" };
        schema.insert(format!("{table}.{} {null}", c.get::<String, _>("c")));
    }
    // Indexes a constraint makes (primary keys, UNIQUE) are left out, as on SQLite.
    let indexes = sqlx::query(
        "SELECT i.tablename::text AS t, i.indexname::text AS i FROM pg_indexes i
         WHERE i.schemaname = current_schema()
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conname = i.indexname)",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for i in indexes {
        let table: String = i.get("t");
        if ours(&table) {
            schema.insert(format!("index {table}.{}", i.get::<String, _>("i")));
        }
    }
    schema
}

#[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
#[tokio::test]
async fn both_engines_have_the_same_tables_columns_and_indexes() {
    let Some((_store, url)) = common::postgres_store().await else { return };
    let sqlite = sqlite_schema().await;
    let postgres = postgres_schema(&url).await;
    common::drop_database(&url).await;
    assert!(sqlite.iter().any(|l| l.starts_with("assets.")), "the SQLite schema was read: {sqlite:?}");
    let only_sqlite: Vec<&String> = sqlite.difference(&postgres).collect();
    for only in POSTGRES_ONLY {
        assert!(postgres.contains(*only), "PostgreSQL lacks {only}");
    }
    let only_postgres: Vec<&String> =
        postgres.difference(&sqlite).filter(|l| !POSTGRES_ONLY.contains(&l.as_str())).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "schemas differ\n only SQLite: {only_sqlite:#?}\n only PostgreSQL: {only_postgres:#?}"
    );
}
