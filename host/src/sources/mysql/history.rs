//! Schema changes: the schema change events on the `<topic.prefix>` topic
//! (`include.schema.changes`) and the schema history (`schema.history.internal`, a file or a
//! Kafka topic: [`super::history_store`]), both in Debezium's formats. A snapshot records the captured schema as Debezium does (the server
//! character set, `DROP TABLE`/`DROP DATABASE`/`CREATE DATABASE`/`USE`, then each table's
//! `SHOW CREATE TABLE`); streaming records each DDL statement with the tables it changed as
//! `information_schema` describes them once it ran.
//!
//! Rows are always decoded with the table map that precedes them, so the history is a
//! record for consumers and operators, not something the source reads back.

use std::sync::{Arc, OnceLock};

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use serde_json::{Value as Json, json};

use super::catalog::{self, CatalogColumn, CatalogTable, quote_ident, text};
use super::changes::Position;
use super::config::{Flavor, MySqlConfig};
use super::error::MySqlError;
use super::history_store::HistoryWriter;
use super::offset::BinlogOffset;
use super::source_info::{self, SourceInfo};
use crate::event::envelope::Timestamp;
use crate::event::{Data, Record, Schema, SchemaType, Value};

/// What a DDL statement did to a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Create,
    Alter,
    Drop,
}

impl ChangeKind {
    fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Create => "CREATE",
            ChangeKind::Alter => "ALTER",
            ChangeKind::Drop => "DROP",
        }
    }
}

fn key_schema(flavor: Flavor) -> Arc<Schema> {
    Arc::new(
        Schema::new(SchemaType::Struct)
            .named(format!(
                "io.debezium.connector.{}.SchemaChangeKey",
                flavor.connector()
            ))
            .versioned(1)
            .field("databaseName", Schema::new(SchemaType::String)),
    )
}

fn value_schema(flavor: Flavor) -> Arc<Schema> {
    let string = || Schema::new(SchemaType::String);
    let int32 = || Schema::new(SchemaType::Int32);
    let boolean = || Schema::new(SchemaType::Boolean).optional();
    let column = Schema::new(SchemaType::Struct)
        .named("io.debezium.connector.schema.Column")
        .versioned(1)
        .field("name", string())
        .field("jdbcType", int32())
        .field("nativeType", int32().optional())
        .field("typeName", string())
        .field("typeExpression", string().optional())
        .field("charsetName", string().optional())
        .field("length", int32().optional())
        .field("scale", int32().optional())
        .field("position", int32())
        .field("optional", boolean())
        .field("autoIncremented", boolean())
        .field("generated", boolean())
        .field("comment", string().optional())
        .field("defaultValueExpression", string().optional())
        .field("enumValues", Schema::array(string()).optional());
    let table = Schema::new(SchemaType::Struct)
        .optional()
        .named("io.debezium.connector.schema.Table")
        .versioned(1)
        .field("defaultCharsetName", string().optional())
        .field("primaryKeyColumnNames", Schema::array(string()).optional())
        .field("columns", Schema::array(column))
        .field("comment", string().optional());
    let change = Schema::new(SchemaType::Struct)
        .named("io.debezium.connector.schema.Change")
        .versioned(1)
        .field("type", string())
        .field("id", string())
        .field("table", table);
    Arc::new(
        Schema::new(SchemaType::Struct)
            .named(format!(
                "io.debezium.connector.{}.SchemaChangeValue",
                flavor.connector()
            ))
            .versioned(1)
            .field("source", source_info::schema(flavor))
            .field("ts_ms", Schema::new(SchemaType::Int64))
            .field("databaseName", string().optional())
            .field("schemaName", string().optional())
            .field("ddl", string().optional())
            .field("tableChanges", Schema::array(change)),
    )
}

fn schemas(flavor: Flavor) -> (Arc<Schema>, Arc<Schema>) {
    static MYSQL: OnceLock<(Arc<Schema>, Arc<Schema>)> = OnceLock::new();
    static MARIADB: OnceLock<(Arc<Schema>, Arc<Schema>)> = OnceLock::new();
    let cell = match flavor {
        Flavor::MySql => &MYSQL,
        Flavor::MariaDb => &MARIADB,
    };
    cell.get_or_init(|| (key_schema(flavor), value_schema(flavor)))
        .clone()
}

/// How Debezium describes a column in a table change.
struct ColumnFacts {
    jdbc_type: i32,
    type_name: String,
    charset: Option<String>,
    length: Option<i32>,
    scale: Option<i32>,
    auto_increment: bool,
    generated: bool,
    comment: Option<String>,
    default: Option<String>,
    enum_values: Option<Vec<String>>,
}

fn column_facts(c: &CatalogColumn) -> ColumnFacts {
    let data_type = c.data_type.to_ascii_lowercase();
    let lower = c.column_type.to_ascii_lowercase();
    let unsigned = lower.contains("unsigned");
    let args = lower
        .find('(')
        .and_then(|s| {
            lower[s + 1..]
                .find(')')
                .map(|e| &c.column_type[s + 1..s + 1 + e])
        })
        .unwrap_or("");
    let numbers: Vec<i32> = args
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let labels: Vec<String> = if matches!(data_type.as_str(), "enum" | "set") {
        args.split(',').map(|l| l.trim().to_owned()).collect()
    } else {
        Vec::new()
    };
    let jdbc_type = match data_type.as_str() {
        "tinyint" | "smallint" => 5,
        "mediumint" | "int" | "integer" | "year" => 4,
        "bigint" => -5,
        "decimal" | "numeric" => 3,
        "float" => 6,
        "double" | "real" => 8,
        "bit" => -7,
        "date" => 91,
        "datetime" => 93,
        "timestamp" => 2014,
        "time" => 92,
        "char" | "enum" | "set" => 1,
        "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => 12,
        "binary" => -2,
        "varbinary" => -3,
        "tinyblob" | "blob" | "mediumblob" | "longblob" => 2004,
        _ => 1111,
    };
    let numeric = matches!(
        data_type.as_str(),
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint"
    );
    let length = match data_type.as_str() {
        "enum" => Some(1),
        "set" => Some(
            labels
                .iter()
                .map(|l| l.trim_matches('\'').chars().count() as i32)
                .sum::<i32>()
                + labels.len().saturating_sub(1) as i32,
        ),
        _ => numbers.first().copied(),
    };
    let default = c
        .default
        .as_deref()
        .filter(|d| !d.eq_ignore_ascii_case("null"))
        .map(
            |d| match d.strip_prefix('\'').and_then(|d| d.strip_suffix('\'')) {
                Some(quoted) => quoted.replace("''", "'"),
                None => d.to_owned(),
            },
        );
    let extra = c.extra.to_ascii_lowercase();
    let auto_increment = extra.contains("auto_increment");
    ColumnFacts {
        jdbc_type,
        type_name: if numeric && unsigned {
            format!("{} UNSIGNED", data_type.to_ascii_uppercase())
        } else {
            data_type.to_ascii_uppercase()
        },
        charset: c.charset.clone(),
        length,
        scale: match data_type.as_str() {
            "decimal" | "numeric" => Some(numbers.get(1).copied().unwrap_or(0)),
            _ => None,
        },
        auto_increment,
        generated: auto_increment || extra.contains("generated"),
        comment: Some(c.comment.clone()).filter(|c| !c.is_empty()),
        default,
        enum_values: (!labels.is_empty()).then_some(labels),
    }
}

fn opt_string(s: Option<String>) -> Value {
    s.map_or(Value::Null, |s| Value::String(s.into()))
}

/// The `tableChanges` entry of a schema change event.
fn table_change_value(
    kind: ChangeKind,
    db: &str,
    name: &str,
    table: Option<&CatalogTable>,
) -> Value {
    let table = table.filter(|_| kind != ChangeKind::Drop).map(|t| {
        let columns = t
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let f = column_facts(c);
                Value::Struct(vec![
                    Value::String(c.name.as_str().into()),
                    Value::Int32(f.jdbc_type),
                    Value::Null,
                    Value::String(f.type_name.as_str().into()),
                    Value::String(f.type_name.into()),
                    opt_string(f.charset),
                    f.length.map_or(Value::Null, Value::Int32),
                    f.scale.map_or(Value::Null, Value::Int32),
                    Value::Int32(i as i32 + 1),
                    Value::Boolean(c.nullable),
                    Value::Boolean(f.auto_increment),
                    Value::Boolean(f.generated),
                    opt_string(f.comment),
                    opt_string(f.default),
                    f.enum_values.map_or(Value::Null, |v| {
                        Value::Array(v.into_iter().map(Value::from).collect())
                    }),
                ])
            })
            .collect();
        Value::Struct(vec![
            opt_string(t.charset.clone()),
            Value::Array(
                t.primary_key
                    .iter()
                    .map(|k| Value::from(k.as_str()))
                    .collect(),
            ),
            Value::Array(columns),
            opt_string(Some(t.comment.clone()).filter(|c| !c.is_empty())),
        ])
    });
    Value::Struct(vec![
        Value::String(kind.as_str().into()),
        Value::String(format!("\"{db}\".\"{name}\"").into()),
        table.unwrap_or(Value::Null),
    ])
}

/// The history file's form of a table change (Debezium's JsonTableChangeSerializer).
fn table_change_json(kind: ChangeKind, db: &str, name: &str, table: Option<&CatalogTable>) -> Json {
    let mut change = json!({"type": kind.as_str(), "id": format!("\"{db}\".\"{name}\"")});
    if let (Some(t), false) = (table, kind == ChangeKind::Drop) {
        let columns: Vec<Json> = t
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let f = column_facts(c);
                let mut column = serde_json::Map::new();
                column.insert("name".into(), c.name.clone().into());
                column.insert("jdbcType".into(), f.jdbc_type.into());
                column.insert("typeName".into(), f.type_name.clone().into());
                column.insert("typeExpression".into(), f.type_name.into());
                column.insert("charsetName".into(), f.charset.into());
                if let Some(length) = f.length {
                    column.insert("length".into(), length.into());
                }
                if let Some(scale) = f.scale {
                    column.insert("scale".into(), scale.into());
                }
                column.insert("position".into(), (i + 1).into());
                column.insert("optional".into(), c.nullable.into());
                column.insert("autoIncremented".into(), f.auto_increment.into());
                column.insert("generated".into(), f.generated.into());
                column.insert("comment".into(), f.comment.into());
                column.insert("hasDefaultValue".into(), f.default.is_some().into());
                if let Some(default) = f.default {
                    column.insert("defaultValueExpression".into(), default.into());
                }
                column.insert(
                    "enumValues".into(),
                    f.enum_values.unwrap_or_default().into(),
                );
                Json::Object(column)
            })
            .collect();
        change["table"] = json!({
            "defaultCharsetName": t.charset,
            "primaryKeyColumnNames": t.primary_key,
            "columns": columns,
        });
    }
    change
}

/// The tables a DDL statement names, with what it does to them. Identifiers may be
/// backquoted and qualified; `db` is the statement's default database.
pub fn ddl_tables(sql: &str, db: &str) -> Vec<(ChangeKind, String, String)> {
    let tokens = tokenize(sql);
    let upper: Vec<String> = tokens.iter().map(|t| t.to_ascii_uppercase()).collect();
    let word = |i: usize| upper.get(i).map(String::as_str).unwrap_or("");
    let name_at = |i: usize| -> Option<(String, String, usize)> {
        let first = tokens.get(i)?.clone();
        if tokens.get(i + 1).map(String::as_str) == Some(".") {
            Some((first, tokens.get(i + 2)?.clone(), i + 3))
        } else {
            Some((db.to_owned(), first, i + 1))
        }
    };
    let mut out = Vec::new();
    let Some(table_at) = upper.iter().position(|w| w == "TABLE") else {
        return out;
    };
    let kind = match word(0) {
        "CREATE" => ChangeKind::Create,
        "ALTER" => ChangeKind::Alter,
        "DROP" => ChangeKind::Drop,
        "RENAME" => {
            // RENAME TABLE a TO b[, c TO d]
            let mut i = table_at + 1;
            while let Some((d1, t1, next)) = name_at(i) {
                if word(next) != "TO" {
                    break;
                }
                let Some((d2, t2, after)) = name_at(next + 1) else {
                    break;
                };
                out.push((ChangeKind::Drop, d1, t1));
                out.push((ChangeKind::Create, d2, t2));
                if tokens.get(after).map(String::as_str) != Some(",") {
                    break;
                }
                i = after + 1;
            }
            return out;
        }
        _ => return out,
    };
    let mut i = table_at + 1;
    while matches!(word(i), "IF" | "NOT" | "EXISTS") {
        i += 1;
    }
    while let Some((d, t, next)) = name_at(i) {
        out.push((kind, d, t));
        if kind != ChangeKind::Drop || tokens.get(next).map(String::as_str) != Some(",") {
            break;
        }
        i = next + 1;
    }
    out
}

/// The table of `TRUNCATE [TABLE] name`.
pub fn truncated_table(sql: &str, db: &str) -> Option<(String, String)> {
    let tokens = tokenize(sql);
    let mut i = 1;
    if tokens
        .get(i)
        .is_some_and(|t| t.eq_ignore_ascii_case("TABLE"))
    {
        i += 1;
    }
    let first = tokens.get(i)?.clone();
    if tokens.get(i + 1).map(String::as_str) == Some(".") {
        Some((first, tokens.get(i + 2)?.clone()))
    } else {
        Some((db.to_owned(), first))
    }
}

/// Words, backquoted identifiers (unquoted), and punctuation of a statement.
fn tokenize(sql: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '`' => {
                let mut ident = String::new();
                while let Some(c) = chars.next() {
                    if c == '`' {
                        if chars.peek() == Some(&'`') {
                            chars.next();
                            ident.push('`');
                        } else {
                            break;
                        }
                    } else {
                        ident.push(c);
                    }
                }
                tokens.push(ident);
            }
            c if c.is_alphanumeric() || c == '_' || c == '$' => {
                let mut word = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_alphanumeric() || n == '_' || n == '$' {
                        word.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(word);
            }
            c if c.is_whitespace() => {}
            c => tokens.push(c.to_string()),
        }
        if tokens.len() > 64 {
            break;
        }
    }
    tokens
}

/// One recorded statement.
struct Statement<'a> {
    db: &'a str,
    table: Option<&'a str>,
    ddl: &'a str,
    changes: Vec<(ChangeKind, &'a str, &'a str, Option<&'a CatalogTable>)>,
}

/// Where schema changes go: events, the history file, or both.
pub struct SchemaChanges {
    emit: bool,
    history: Option<HistoryWriter>,
}

impl SchemaChanges {
    /// Opens the schema history the configuration names, if any.
    pub fn open(config: &MySqlConfig) -> Result<SchemaChanges, MySqlError> {
        Ok(SchemaChanges {
            emit: config.include_schema_changes,
            history: HistoryWriter::open(&config.history)?,
        })
    }

    fn record(
        &mut self,
        config: &MySqlConfig,
        statement: Statement,
        at: &Position,
        offset: &BinlogOffset,
        out: &mut Vec<Record>,
    ) -> Result<(), MySqlError> {
        if let Some(history) = &mut self.history {
            let changes: Vec<Json> = statement
                .changes
                .iter()
                .map(|(k, d, t, table)| table_change_json(*k, d, t, *table))
                .collect();
            history.append(&json!({
                "source": {"server": config.topic_prefix},
                "position": Json::Object(offset.to_map()),
                "ts_ms": Timestamp::now().millis(),
                "databaseName": statement.db,
                "ddl": statement.ddl,
                "tableChanges": changes,
            }))?;
        }
        if !self.emit {
            return Ok(());
        }
        let (key_schema, value_schema) = schemas(config.flavor);
        let source = SourceInfo {
            flavor: config.flavor,
            server: &config.topic_prefix,
            db: statement.db,
            table: statement.table,
            ts: at.ts,
            snapshot: at.snapshot,
            server_id: at.server_id,
            gtid: at.gtid,
            file: at.file,
            pos: at.pos,
            row: 0,
            thread: at.thread,
            query: None,
        }
        .value();
        let changes = statement
            .changes
            .iter()
            .map(|(k, d, t, table)| table_change_value(*k, d, t, *table))
            .collect();
        let value = Value::Struct(vec![
            source,
            Value::Int64(Timestamp::now().millis()),
            Value::String(statement.db.into()),
            Value::Null,
            Value::String(statement.ddl.into()),
            Value::Array(changes),
        ]);
        out.push(Record::new(
            config.topic_prefix.clone(),
            Some(Data::new(
                key_schema,
                Value::Struct(vec![Value::String(statement.db.into())]),
            )),
            Some(Data::new(value_schema, value)),
        ));
        Ok(())
    }

    /// Records the captured schema at a snapshot, as Debezium's snapshot does.
    pub async fn snapshot(
        &mut self,
        config: &MySqlConfig,
        conn: &mut Conn,
        tables: &[CatalogTable],
        at: &Position<'_>,
        offset: &BinlogOffset,
    ) -> Result<Vec<Record>, MySqlError> {
        let mut out = Vec::new();
        if !self.emit && self.history.is_none() {
            return Ok(out);
        }
        let what = "reading the schema for the snapshot";
        let server: Vec<mysql_async::Row> = conn
            .query("SELECT @@character_set_server, @@collation_server")
            .await
            .map_err(|e| MySqlError::query(what, e))?;
        let (charset, collation) = server
            .first()
            .map(|r| {
                (
                    text(r, 0).unwrap_or_default(),
                    text(r, 1).unwrap_or_default(),
                )
            })
            .unwrap_or_default();
        let set = format!("SET character_set_server={charset}, collation_server={collation}");
        self.record(
            config,
            Statement {
                db: "",
                table: None,
                ddl: &set,
                changes: Vec::new(),
            },
            at,
            offset,
            &mut out,
        )?;
        for t in tables {
            let ddl = format!(
                "DROP TABLE IF EXISTS {}.{}",
                quote_ident(&t.db),
                quote_ident(&t.name)
            );
            self.record(
                config,
                Statement {
                    db: &t.db,
                    table: Some(&t.name),
                    ddl: &ddl,
                    changes: vec![(ChangeKind::Drop, &t.db, &t.name, None)],
                },
                at,
                offset,
                &mut out,
            )?;
        }
        let mut databases: Vec<&str> = tables.iter().map(|t| t.db.as_str()).collect();
        databases.dedup();
        for db in databases {
            let rows: Vec<mysql_async::Row> = conn
                .query(format!(
                    "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {}",
                    catalog::quote_literal(db)
                ))
                .await
                .map_err(|e| MySqlError::query(what, e))?;
            let (charset, collation) = rows
                .first()
                .map(|r| {
                    (
                        text(r, 0).unwrap_or_default(),
                        text(r, 1).unwrap_or_default(),
                    )
                })
                .unwrap_or_default();
            let quoted = quote_ident(db);
            for ddl in [
                format!("DROP DATABASE IF EXISTS {quoted}"),
                format!("CREATE DATABASE {quoted} CHARSET {charset} COLLATE {collation}"),
                format!("USE {quoted}"),
            ] {
                self.record(
                    config,
                    Statement {
                        db,
                        table: None,
                        ddl: &ddl,
                        changes: Vec::new(),
                    },
                    at,
                    offset,
                    &mut out,
                )?;
            }
            for t in tables.iter().filter(|t| t.db == db) {
                let rows: Vec<mysql_async::Row> = conn
                    .query(format!(
                        "SHOW CREATE TABLE {quoted}.{}",
                        quote_ident(&t.name)
                    ))
                    .await
                    .map_err(|e| MySqlError::query(what, e))?;
                let ddl = rows.first().and_then(|r| text(r, 1)).unwrap_or_default();
                self.record(
                    config,
                    Statement {
                        db,
                        table: Some(&t.name),
                        ddl: &ddl,
                        changes: vec![(ChangeKind::Create, &t.db, &t.name, Some(t))],
                    },
                    at,
                    offset,
                    &mut out,
                )?;
            }
        }
        Ok(out)
    }

    /// Records a DDL statement read from the binlog; returns its schema change event when
    /// it concerns captured tables (or, naming no table, a captured database).
    pub async fn ddl(
        &mut self,
        config: &MySqlConfig,
        conn: &mut Conn,
        db: &str,
        sql: &str,
        at: &Position<'_>,
        offset: &BinlogOffset,
    ) -> Result<Option<Record>, MySqlError> {
        let named = ddl_tables(sql, db);
        let captured: Vec<_> = named
            .iter()
            .filter(|(_, d, t)| config.filters.table(d, t))
            .collect();
        if named.is_empty() && !config.filters.database(db) {
            return Ok(None);
        }
        if !named.is_empty() && captured.is_empty() {
            return Ok(None);
        }
        if !self.emit && self.history.is_none() {
            return Ok(None);
        }
        let mut described = Vec::new();
        for (kind, d, t) in &captured {
            let table = match kind {
                ChangeKind::Drop => None,
                _ => catalog::tables(conn, Some((d, t)))
                    .await?
                    .into_iter()
                    .next(),
            };
            described.push((*kind, d.as_str(), t.as_str(), table));
        }
        let changes = described
            .iter()
            .map(|(k, d, t, table)| (*k, *d, *t, table.as_ref()))
            .collect();
        let statement_db = captured.first().map_or(db, |(_, d, _)| d.as_str());
        let mut out = Vec::new();
        self.record(
            config,
            Statement {
                db: statement_db,
                table: captured.first().map(|(_, _, t)| t.as_str()),
                ddl: sql,
                changes,
            },
            at,
            offset,
            &mut out,
        )?;
        Ok(out.pop())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_names_its_tables() {
        assert_eq!(
            ddl_tables("ALTER TABLE all_types ADD COLUMN c int", "dbz"),
            vec![(ChangeKind::Alter, "dbz".into(), "all_types".into())]
        );
        assert_eq!(
            ddl_tables("CREATE TABLE IF NOT EXISTS `o`.`we``ird` (id int)", "dbz"),
            vec![(ChangeKind::Create, "o".into(), "we`ird".into())]
        );
        assert_eq!(
            ddl_tables("DROP TABLE IF EXISTS a, b.c", "d"),
            vec![
                (ChangeKind::Drop, "d".into(), "a".into()),
                (ChangeKind::Drop, "b".into(), "c".into())
            ]
        );
        assert_eq!(
            ddl_tables("RENAME TABLE a TO b", "d"),
            vec![
                (ChangeKind::Drop, "d".into(), "a".into()),
                (ChangeKind::Create, "d".into(), "b".into())
            ]
        );
        assert!(ddl_tables("CREATE DATABASE x", "d").is_empty());
        assert_eq!(
            truncated_table("TRUNCATE TABLE `a`.b", "d"),
            Some(("a".into(), "b".into()))
        );
        assert_eq!(
            truncated_table("truncate t", "d"),
            Some(("d".into(), "t".into()))
        );
    }

    #[test]
    fn columns_are_described_as_debezium_does() {
        let column = |data_type: &str, column_type: &str, default: Option<&str>| CatalogColumn {
            name: "c".into(),
            data_type: data_type.into(),
            column_type: column_type.into(),
            nullable: true,
            default: default.map(str::to_owned),
            fsp: None,
            charset: None,
            comment: String::new(),
            extra: String::new(),
        };
        let f = column_facts(&column("tinyint", "tinyint(3) unsigned", Some("NULL")));
        assert_eq!(
            (f.jdbc_type, f.type_name.as_str(), f.length),
            (5, "TINYINT UNSIGNED", Some(3))
        );
        assert_eq!(f.default, None);
        let f = column_facts(&column("set", "set('a','b','c')", None));
        assert_eq!(f.length, Some(5));
        assert_eq!(f.enum_values.unwrap(), vec!["'a'", "'b'", "'c'"]);
        let f = column_facts(&column("decimal", "decimal(10,3)", Some("1.500")));
        assert_eq!(
            (f.length, f.scale, f.default.as_deref()),
            (Some(10), Some(3), Some("1.500"))
        );
        let f = column_facts(&column("char", "char(5)", Some("'ab'")));
        assert_eq!(f.default.as_deref(), Some("ab"));
    }
}
