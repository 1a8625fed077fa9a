//! A captured table: its columns, its Connect schemas (key, row value, envelope) and topic,
//! and the conversion of a tuple's cells into row values.

use std::sync::Arc;

use super::catalog::{CatalogTable, TypeRegistry};
use super::config::{ConvertFailure, PostgresConfig};
use super::error::PostgresError;
use super::pgoutput::{Cell, Column, ReplicaIdentity};
use super::source_info;
use super::types::PgType;
use crate::event::envelope::envelope_schema;
use crate::event::{Schema, SchemaType, Value};

/// A column of a captured table.
#[derive(Debug, Clone)]
pub struct TableColumn {
    pub name: String,
    pub pg_type: PgType,
    pub optional: bool,
    /// The column's default as Debezium writes it in the schema.
    pub default: Option<Value>,
}

/// A table as the source emits it.
#[derive(Debug)]
pub struct Table {
    pub schema: String,
    pub name: String,
    /// `<prefix>.<schema>.<table>`.
    pub topic: String,
    pub replica_identity: ReplicaIdentity,
    /// Every column, in the order of the tuples the server sends.
    pub columns: Vec<TableColumn>,
    /// Positions (in `columns`) of the columns the value carries.
    captured: Vec<usize>,
    /// Positions (in `columns`) of the primary-key columns, in key order.
    key: Vec<usize>,
    /// `None` for a table without a primary key: its events have a null key.
    pub key_schema: Option<Arc<Schema>>,
    pub row_schema: Arc<Schema>,
    pub envelope_schema: Arc<Schema>,
}

impl Table {
    /// Builds a table from its columns (in tuple order) and primary-key column names.
    pub fn new(
        config: &PostgresConfig,
        schema: &str,
        name: &str,
        replica_identity: ReplicaIdentity,
        columns: Vec<TableColumn>,
        primary_key: &[String],
    ) -> Table {
        let topic = format!("{}.{schema}.{name}", config.topic_prefix);
        for c in columns.iter().filter(|c| c.pg_type.is_unknown()) {
            tracing::warn!(
                table = %format!("{schema}.{name}"),
                column = %c.name,
                pg_type = ?c.pg_type,
                "unknown column type: its values are written as their text"
            );
        }
        let captured: Vec<usize> = (0..columns.len())
            .filter(|&i| config.filters.column(schema, name, &columns[i].name))
            .collect();
        let key: Vec<usize> = primary_key
            .iter()
            .filter_map(|k| columns.iter().position(|c| &c.name == k))
            .collect();
        let field_schema = |c: &TableColumn| {
            let mut s = c.pg_type.schema(c.optional, &config.types);
            s.default = c.default.clone();
            s
        };
        let key_schema = (!key.is_empty()).then(|| {
            let mut s = Schema::new(SchemaType::Struct).named(format!("{topic}.Key"));
            for &i in &key {
                s = s.field(columns[i].name.clone(), field_schema(&columns[i]));
            }
            Arc::new(s)
        });
        let mut row = Schema::new(SchemaType::Struct)
            .optional()
            .named(format!("{topic}.Value"));
        for &i in &captured {
            row = row.field(columns[i].name.clone(), field_schema(&columns[i]));
        }
        let row_schema = Arc::new(row);
        let envelope = Arc::new(envelope_schema(&topic, &row_schema, &source_info::schema()));
        Table {
            schema: schema.to_owned(),
            name: name.to_owned(),
            topic,
            replica_identity,
            columns,
            captured,
            key,
            key_schema,
            row_schema,
            envelope_schema: envelope,
        }
    }

    /// Builds a table from the catalog (snapshots), columns in attribute order.
    pub fn from_catalog(
        config: &PostgresConfig,
        types: &TypeRegistry,
        table: &CatalogTable,
    ) -> Table {
        let columns = table
            .columns
            .iter()
            .map(|c| {
                let pg_type = PgType::resolve(c.type_oid, c.modifier, types);
                let default =
                    pg_type.default_value(c.type_oid, types, c.default.as_deref(), &config.types);
                TableColumn {
                    name: c.name.clone(),
                    pg_type,
                    optional: !c.not_null,
                    default,
                }
            })
            .collect();
        Table::new(
            config,
            &table.schema,
            &table.name,
            ReplicaIdentity::Default,
            columns,
            &table.primary_key,
        )
    }

    /// Builds a table from a pgoutput Relation message (the tuple layout), completed by the
    /// catalog's nullability, defaults and primary key where the catalog still knows them.
    pub fn from_relation(
        config: &PostgresConfig,
        types: &TypeRegistry,
        schema: &str,
        name: &str,
        replica_identity: ReplicaIdentity,
        relation_columns: &[Column],
        catalog: Option<&CatalogTable>,
    ) -> Table {
        let columns = relation_columns
            .iter()
            .map(|rc| {
                let pg_type = PgType::resolve(rc.type_oid, rc.type_modifier, types);
                let known = catalog.and_then(|t| t.columns.iter().find(|c| c.name == rc.name));
                let optional = known.is_none_or(|c| !c.not_null);
                let default = pg_type.default_value(
                    rc.type_oid,
                    types,
                    known.and_then(|c| c.default.as_deref()),
                    &config.types,
                );
                TableColumn {
                    name: rc.name.clone(),
                    pg_type,
                    optional,
                    default,
                }
            })
            .collect();
        let primary_key = catalog.map(|t| t.primary_key.clone()).unwrap_or_default();
        Table::new(
            config,
            schema,
            name,
            replica_identity,
            columns,
            &primary_key,
        )
    }

    fn cell_value(
        &self,
        column: usize,
        cell: &Cell,
        config: &PostgresConfig,
    ) -> Result<Value, PostgresError> {
        let c = &self.columns[column];
        let failed = |reason: String| PostgresError::Value {
            table: format!("{}.{}", self.schema, self.name),
            column: c.name.clone(),
            reason,
        };
        match cell {
            Cell::Null if c.optional => Ok(Value::Null),
            Cell::Null => Ok(c
                .pg_type
                .required_fallback(c.default.as_ref(), &config.types)),
            Cell::Unchanged => Ok(c.pg_type.unavailable(&config.types)),
            Cell::Text(bytes) => {
                let converted = std::str::from_utf8(bytes)
                    .map_err(|_| "the server sent text that is not UTF-8".to_owned())
                    .and_then(|text| c.pg_type.value(text, &config.types));
                match (converted, config.convert_failure) {
                    (Ok(value), _) => Ok(value),
                    (Err(reason), ConvertFailure::Fail) => Err(failed(reason)),
                    (Err(reason), ConvertFailure::Warn) => {
                        tracing::warn!(
                            table = %format!("{}.{}", self.schema, self.name),
                            column = %c.name,
                            %reason,
                            "cannot convert a value: written as null (event.converting.failure.handling.mode=warn)"
                        );
                        Ok(Value::Null)
                    }
                    (Err(_), ConvertFailure::Skip) => Ok(Value::Null),
                }
            }
            Cell::Binary(_) => Err(failed(
                "the server sent a binary value; the source reads text values only".into(),
            )),
        }
    }

    /// The row value (the `before` or `after` struct) of a tuple.
    pub fn row(&self, cells: &[Cell], config: &PostgresConfig) -> Result<Value, PostgresError> {
        self.check_width(cells)?;
        let values = self
            .captured
            .iter()
            .map(|&i| self.cell_value(i, &cells[i], config))
            .collect::<Result<_, _>>()?;
        Ok(Value::Struct(values))
    }

    /// Positions (in `columns`) of the primary-key columns, in key order.
    pub fn key_columns(&self) -> &[usize] {
        &self.key
    }

    /// The key value of a tuple; `None` without a primary key.
    pub fn key(
        &self,
        cells: &[Cell],
        config: &PostgresConfig,
    ) -> Result<Option<Value>, PostgresError> {
        if self.key.is_empty() {
            return Ok(None);
        }
        self.check_width(cells)?;
        let values = self
            .key
            .iter()
            .map(|&i| self.cell_value(i, &cells[i], config))
            .collect::<Result<_, _>>()?;
        Ok(Some(Value::Struct(values)))
    }

    fn check_width(&self, cells: &[Cell]) -> Result<(), PostgresError> {
        if cells.len() == self.columns.len() {
            return Ok(());
        }
        Err(PostgresError::Value {
            table: format!("{}.{}", self.schema, self.name),
            column: "*".into(),
            reason: format!(
                "a tuple has {} columns but the table has {}",
                cells.len(),
                self.columns.len()
            ),
        })
    }
}
