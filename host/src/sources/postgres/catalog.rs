//! What the source reads from `pg_catalog`: the types of the database (to resolve enums,
//! domains, arrays and extension types such as hstore) and the tables to capture with their
//! columns, nullability, defaults and primary keys.

use std::collections::HashMap;

use tokio_postgres::Client;
use tokio_postgres::types::Oid;

use super::config::PostgresConfig;
use super::error::{PostgresError, describe};

/// Session settings that make every value's text form unambiguous: ISO dates, UTC, floats
/// that round-trip, ISO 8601 intervals.
pub const SESSION_OPTIONS: &str = "-c DateStyle=ISO -c TimeZone=UTC -c extra_float_digits=3 -c IntervalStyle=iso_8601 -c bytea_output=hex";

/// Opens a management connection (snapshots, catalog reads, publication and slot checks).
pub async fn connect(config: &PostgresConfig) -> Result<Client, PostgresError> {
    let mut pg = tokio_postgres::Config::new();
    pg.host(&config.hostname)
        .port(config.port)
        .user(&config.user)
        .password(&config.password)
        .dbname(&config.dbname)
        .options(SESSION_OPTIONS)
        .application_name("tidemark")
        .connect_timeout(std::time::Duration::from_secs(30));
    config.tls.connect(config, &pg).await
}

/// Classifies a failure to connect: refused credentials, or the server unreachable.
pub fn connect_error(config: &PostgresConfig, error: &tokio_postgres::Error) -> PostgresError {
    use tokio_postgres::error::SqlState;
    let auth = error.code().is_some_and(|code| {
        *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
    });
    if auth {
        PostgresError::Auth {
            host: config.hostname.clone(),
            port: config.port,
            user: config.user.clone(),
            reason: describe(error),
        }
    } else {
        PostgresError::Connect {
            host: config.hostname.clone(),
            port: config.port,
            user: config.user.clone(),
            reason: describe(error),
        }
    }
}

/// A row of `pg_type`.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeInfo {
    pub oid: u32,
    pub name: String,
    /// `typtype`: `b` base, `c` composite, `d` domain, `e` enum, `p` pseudo, `r` range, `m`
    /// multirange.
    pub kind: u8,
    /// The base type of a domain.
    pub base: u32,
    /// The type modifier a domain applies to its base type.
    pub base_modifier: i32,
    /// The element type of an array type (0 otherwise).
    pub element: u32,
    /// `typcategory`: `A` for arrays.
    pub category: u8,
    /// The labels of an enum, in sort order.
    pub labels: Vec<String>,
}

/// The database's types by OID.
#[derive(Debug, Clone, Default)]
pub struct TypeRegistry {
    types: HashMap<u32, TypeInfo>,
}

impl TypeRegistry {
    /// A registry from known rows (for tests and for types added mid-stream).
    pub fn from_types(types: impl IntoIterator<Item = TypeInfo>) -> TypeRegistry {
        TypeRegistry {
            types: types.into_iter().map(|t| (t.oid, t)).collect(),
        }
    }

    /// Reads every type of the database.
    pub async fn load(client: &Client) -> Result<TypeRegistry, PostgresError> {
        let rows = client
            .query(
                "SELECT t.oid, t.typname::text, t.typtype::text, t.typbasetype, t.typtypmod, \
                        t.typelem, t.typcategory::text, \
                        COALESCE((SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) \
                                  FROM pg_enum e WHERE e.enumtypid = t.oid), '{}') \
                 FROM pg_type t",
                &[],
            )
            .await
            .map_err(|e| PostgresError::query("reading pg_type", e))?;
        let first = |s: String| s.bytes().next().unwrap_or(b'?');
        let types = rows.into_iter().map(|row| TypeInfo {
            oid: row.get::<_, Oid>(0),
            name: row.get(1),
            kind: first(row.get(2)),
            base: row.get::<_, Oid>(3),
            base_modifier: row.get(4),
            element: row.get::<_, Oid>(5),
            category: first(row.get(6)),
            labels: row.get(7),
        });
        Ok(TypeRegistry::from_types(types))
    }

    /// A type by OID.
    pub fn get(&self, oid: u32) -> Option<&TypeInfo> {
        self.types.get(&oid)
    }
}

/// A column as the catalog describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogColumn {
    pub name: String,
    pub type_oid: u32,
    pub modifier: i32,
    pub not_null: bool,
    /// The default expression, as `pg_get_expr` prints it.
    pub default: Option<String>,
}

/// A table as the catalog describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogTable {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    /// Columns in attribute order (dropped and generated columns left out, as pgoutput does).
    pub columns: Vec<CatalogColumn>,
    /// Names of the primary-key columns in key order; empty without a primary key.
    pub primary_key: Vec<String>,
}

const TABLES_SQL: &str = "\
SELECT c.oid, n.nspname::text, c.relname::text, a.attname::text, a.atttypid, a.atttypmod, \
       a.attnotnull, pg_get_expr(d.adbin, d.adrelid), \
       array_position((SELECT i.indkey::int2[] FROM pg_index i \
                       WHERE i.indrelid = c.oid AND i.indisprimary), a.attnum) \
FROM pg_class c \
JOIN pg_namespace n ON n.oid = c.relnamespace \
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
                    AND a.attgenerated = '' \
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum \
WHERE c.relkind IN ('r', 'p') \
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' \
  AND (c.oid = $1 OR $1 = 0) \
ORDER BY n.nspname, c.relname, a.attnum";

async fn read_tables(client: &Client, oid: u32) -> Result<Vec<CatalogTable>, PostgresError> {
    let rows = client
        .query(TABLES_SQL, &[&oid])
        .await
        .map_err(|e| PostgresError::query("reading the tables from pg_catalog", e))?;
    let mut tables: Vec<CatalogTable> = Vec::new();
    let mut key_positions: Vec<Vec<(i32, String)>> = Vec::new();
    for row in rows {
        let oid: Oid = row.get(0);
        if tables.last().is_none_or(|t| t.oid != oid) {
            tables.push(CatalogTable {
                oid,
                schema: row.get(1),
                name: row.get(2),
                columns: Vec::new(),
                primary_key: Vec::new(),
            });
            key_positions.push(Vec::new());
        }
        let name: String = row.get(3);
        if let Some(position) = row.get::<_, Option<i32>>(8)
            && let Some(keys) = key_positions.last_mut()
        {
            keys.push((position, name.clone()));
        }
        if let Some(table) = tables.last_mut() {
            table.columns.push(CatalogColumn {
                name,
                type_oid: row.get::<_, Oid>(4),
                modifier: row.get(5),
                not_null: row.get(6),
                default: row.get(7),
            });
        }
    }
    for (table, mut keys) in tables.iter_mut().zip(key_positions) {
        keys.sort();
        table.primary_key = keys.into_iter().map(|(_, name)| name).collect();
    }
    Ok(tables)
}

/// Reads every user table of the database.
pub async fn all_tables(client: &Client) -> Result<Vec<CatalogTable>, PostgresError> {
    read_tables(client, 0).await
}

/// Reads one table by OID; `None` when it no longer exists.
pub async fn table_by_oid(
    client: &Client,
    oid: u32,
) -> Result<Option<CatalogTable>, PostgresError> {
    Ok(read_tables(client, oid).await?.into_iter().next())
}
