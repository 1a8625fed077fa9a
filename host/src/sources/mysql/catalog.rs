//! What the source reads from the server outside the binlog: the server's settings, the
//! tables and their columns from `information_schema`, and binlog positions.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Row};

use super::config::{Flavor, MySqlConfig};
use super::error::MySqlError;

/// Databases no connector reads.
const SYSTEM_DATABASES: &str = "'mysql','sys','performance_schema','information_schema'";

/// Opens a connection to the configured server.
pub async fn connect(config: &MySqlConfig) -> Result<Conn, MySqlError> {
    let opts = OptsBuilder::default()
        .ip_or_hostname(config.hostname.clone())
        .tcp_port(config.port)
        .user(Some(config.user.clone()))
        .pass(Some(config.password.clone()))
        .prefer_socket(false);
    config.tls.connect(config, opts).await
}

/// A text cell of a row as a string (`None` for NULL).
pub fn text(row: &Row, index: usize) -> Option<String> {
    match row.as_ref(index)? {
        mysql_async::Value::NULL => None,
        mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        other => Some(other.as_sql(true).trim_matches('\'').to_owned()),
    }
}

async fn rows(conn: &mut Conn, what: &str, sql: &str) -> Result<Vec<Row>, MySqlError> {
    conn.query(sql)
        .await
        .map_err(|e| MySqlError::query(what, e))
}

/// What the source needs to know about the server.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub version: String,
    pub flavor: Flavor,
}

/// Checks that the server writes a binlog the source can read: `log_bin`, ROW format, FULL
/// row images and FULL row metadata, and that `connector.class` fits the server.
pub async fn check_server(conn: &mut Conn, config: &MySqlConfig) -> Result<ServerInfo, MySqlError> {
    let what = "reading the server's binlog settings";
    let row = rows(
        conn,
        what,
        "SELECT @@version, @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata",
    )
    .await?
    .into_iter()
    .next()
    .ok_or_else(|| MySqlError::Query {
        what: what.into(),
        reason: "no row".into(),
        retriable: false,
    })?;
    let version = text(&row, 0).unwrap_or_default();
    let flavor = if version.to_ascii_lowercase().contains("mariadb") {
        Flavor::MariaDb
    } else {
        Flavor::MySql
    };
    if flavor != config.flavor {
        let (configured, suggested) = match config.flavor {
            Flavor::MySql => (
                "the MySQL connector",
                "io.debezium.connector.mariadb.MariaDbConnector (or mariadb)",
            ),
            Flavor::MariaDb => (
                "the MariaDB connector",
                "io.debezium.connector.mysql.MySqlConnector (or mysql)",
            ),
        };
        return Err(MySqlError::WrongFlavor {
            configured,
            host: config.hostname.clone(),
            port: config.port,
            version,
            suggested,
        });
    }
    let setting = |variable: &'static str, found: Option<String>, wanted: &'static str, hint| {
        let found = found.unwrap_or_else(|| "(unset)".into());
        if found.eq_ignore_ascii_case(wanted) || (wanted == "1" && found == "ON") {
            Ok(())
        } else {
            Err(MySqlError::ServerSetting {
                host: config.hostname.clone(),
                port: config.port,
                variable,
                found,
                wanted,
                hint,
            })
        }
    };
    setting(
        "log_bin",
        text(&row, 1),
        "1",
        "start the server with --log-bin",
    )?;
    setting(
        "binlog_format",
        text(&row, 2),
        "ROW",
        "SET GLOBAL binlog_format=ROW, or binlog_format=ROW in the server's configuration",
    )?;
    setting(
        "binlog_row_image",
        text(&row, 3),
        "FULL",
        "SET GLOBAL binlog_row_image=FULL, or binlog_row_image=FULL in the server's configuration",
    )?;
    setting(
        "binlog_row_metadata",
        text(&row, 4),
        "FULL",
        "SET GLOBAL binlog_row_metadata=FULL (MySQL 8.0.1+, MariaDB 10.5+), or in the server's configuration",
    )?;
    Ok(ServerInfo { version, flavor })
}

/// A column as `information_schema.COLUMNS` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogColumn {
    pub name: String,
    pub data_type: String,
    pub column_type: String,
    pub nullable: bool,
    pub default: Option<String>,
    pub fsp: Option<u32>,
    /// `CHARACTER_SET_NAME` (character columns only).
    pub charset: Option<String>,
    /// `COLUMN_COMMENT`.
    pub comment: String,
    /// `EXTRA` (`auto_increment`, `VIRTUAL GENERATED`, …).
    pub extra: String,
}

/// A base table with its columns (in ordinal order) and primary key.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogTable {
    pub db: String,
    pub name: String,
    pub columns: Vec<CatalogColumn>,
    pub primary_key: Vec<String>,
    /// The table's default character set (from its collation).
    pub charset: Option<String>,
    /// `TABLE_COMMENT`.
    pub comment: String,
}

/// A quoted SQL string literal.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// The base tables of every non-system database, or of one table when `only` names it.
pub async fn tables(
    conn: &mut Conn,
    only: Option<(&str, &str)>,
) -> Result<Vec<CatalogTable>, MySqlError> {
    let filter = match only {
        Some((db, table)) => format!(
            "TABLE_SCHEMA = {} AND TABLE_NAME = {}",
            quote_literal(db),
            quote_literal(table)
        ),
        None => format!("TABLE_SCHEMA NOT IN ({SYSTEM_DATABASES})"),
    };
    let what = "reading the tables from information_schema";
    let mut tables: Vec<CatalogTable> = rows(
        conn,
        what,
        &format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_COLLATION, TABLE_COMMENT FROM information_schema.TABLES \
             WHERE TABLE_TYPE = 'BASE TABLE' AND {filter} ORDER BY TABLE_SCHEMA, TABLE_NAME"
        ),
    )
    .await?
    .iter()
    .map(|r| CatalogTable {
        db: text(r, 0).unwrap_or_default(),
        name: text(r, 1).unwrap_or_default(),
        columns: Vec::new(),
        primary_key: Vec::new(),
        charset: text(r, 2).and_then(|c| c.split('_').next().map(str::to_owned)),
        comment: text(r, 3).unwrap_or_default(),
    })
    .collect();
    let index: std::collections::HashMap<(String, String), usize> = tables
        .iter()
        .enumerate()
        .map(|(i, t)| ((t.db.clone(), t.name.clone()), i))
        .collect();
    let columns = rows(
        conn,
        what,
        &format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, IS_NULLABLE, DATA_TYPE, COLUMN_TYPE, \
                    COLUMN_DEFAULT, DATETIME_PRECISION, CHARACTER_SET_NAME, COLUMN_COMMENT, EXTRA \
             FROM information_schema.COLUMNS \
             WHERE {filter} ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
        ),
    )
    .await?;
    for r in &columns {
        let key = (
            text(r, 0).unwrap_or_default(),
            text(r, 1).unwrap_or_default(),
        );
        if let Some(&i) = index.get(&key) {
            tables[i].columns.push(CatalogColumn {
                name: text(r, 2).unwrap_or_default(),
                nullable: text(r, 3).as_deref() == Some("YES"),
                data_type: text(r, 4).unwrap_or_default(),
                column_type: text(r, 5).unwrap_or_default(),
                default: text(r, 6),
                fsp: text(r, 7).and_then(|p| p.parse().ok()),
                charset: text(r, 8),
                comment: text(r, 9).unwrap_or_default(),
                extra: text(r, 10).unwrap_or_default(),
            });
        }
    }
    let keys = rows(
        conn,
        what,
        &format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
             WHERE CONSTRAINT_NAME = 'PRIMARY' AND {filter} \
             ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
        ),
    )
    .await?;
    for r in &keys {
        let key = (
            text(r, 0).unwrap_or_default(),
            text(r, 1).unwrap_or_default(),
        );
        if let Some(&i) = index.get(&key) {
            tables[i].primary_key.push(text(r, 2).unwrap_or_default());
        }
    }
    Ok(tables)
}

/// A binlog position: file name and byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinlogPosition {
    pub file: String,
    pub pos: u64,
}

/// The server's current binlog position (`SHOW MASTER STATUS`, or `SHOW BINARY LOG STATUS`
/// on MySQL 8.4+).
pub async fn current_position(conn: &mut Conn) -> Result<BinlogPosition, MySqlError> {
    let what = "reading the binlog position";
    let status = match conn.query::<Row, _>("SHOW MASTER STATUS").await {
        Ok(rows) => rows,
        Err(_) => rows(conn, what, "SHOW BINARY LOG STATUS").await?,
    };
    let row = status.first().ok_or_else(|| MySqlError::Query {
        what: what.into(),
        reason: "the server reports no binlog position (is log_bin on?)".into(),
        retriable: false,
    })?;
    Ok(BinlogPosition {
        file: text(row, 0).unwrap_or_default(),
        pos: text(row, 1).and_then(|p| p.parse().ok()).unwrap_or(4),
    })
}

/// The server's executed GTIDs: MariaDB's `@@gtid_binlog_pos`, MySQL's `@@gtid_executed`
/// when `gtid_mode` is on; `None` without GTIDs.
pub async fn executed_gtids(conn: &mut Conn, flavor: Flavor) -> Result<Option<String>, MySqlError> {
    let sql = match flavor {
        Flavor::MariaDb => "SELECT @@gtid_binlog_pos",
        Flavor::MySql => "SELECT IF(@@gtid_mode = 'ON', @@gtid_executed, NULL)",
    };
    let rows = rows(conn, "reading the executed GTIDs", sql).await?;
    Ok(rows
        .first()
        .and_then(|r| text(r, 0))
        .map(|g| g.replace('\n', ""))
        .filter(|g| !g.trim().is_empty()))
}

/// The binlog files the server still has (`SHOW BINARY LOGS`).
pub async fn binlog_files(conn: &mut Conn) -> Result<Vec<String>, MySqlError> {
    Ok(rows(conn, "listing the binlog files", "SHOW BINARY LOGS")
        .await?
        .iter()
        .filter_map(|r| text(r, 0))
        .collect())
}

/// A backquoted identifier.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("we`ird"), "`we``ird`");
        assert_eq!(quote_literal("it's \\"), "'it''s \\\\'");
    }
}
