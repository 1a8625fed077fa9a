//! A captured table: its columns, its Connect schemas (key, row value, envelope) and topic,
//! and the conversion of a row's cells into row values.

use std::sync::Arc;

use super::catalog::CatalogTable;
use super::config::MySqlConfig;
use super::error::MySqlError;
use super::source_info;
use super::types::{Cell, MySqlType, value};
use crate::event::envelope::envelope_schema;
use crate::event::{Schema, SchemaType, Value};
use crate::sources::options::ConvertFailure;

/// A column of a captured table.
#[derive(Debug, Clone)]
pub struct TableColumn {
    pub name: String,
    pub kind: MySqlType,
    pub optional: bool,
    /// The column's default as Debezium writes it in the schema.
    pub default: Option<Value>,
}

/// A table as the source emits it.
#[derive(Debug)]
pub struct Table {
    pub db: String,
    pub name: String,
    /// `<prefix>.<db>.<table>`.
    pub topic: String,
    /// Every column, in the order of the table's rows.
    pub columns: Vec<TableColumn>,
    /// Positions (in `columns`) of the columns the value carries.
    captured: Vec<usize>,
    /// Positions (in `columns`) of the primary-key columns, in key order.
    pub key: Vec<usize>,
    /// `None` for a table without a primary key: its events have a null key.
    pub key_schema: Option<Arc<Schema>>,
    pub row_schema: Arc<Schema>,
    pub envelope_schema: Arc<Schema>,
}

impl Table {
    /// Builds a table from its catalog description.
    pub fn from_catalog(config: &MySqlConfig, table: &CatalogTable) -> Table {
        let (db, name) = (&table.db, &table.name);
        let topic = format!("{}.{db}.{name}", config.topic_prefix);
        let columns: Vec<TableColumn> = table
            .columns
            .iter()
            .map(|c| {
                let kind = MySqlType::from_catalog(
                    &c.data_type,
                    &c.column_type,
                    c.fsp,
                    c.charset.as_deref(),
                );
                if kind.is_unknown() {
                    tracing::warn!(
                        table = %format!("{db}.{name}"),
                        column = %c.name,
                        column_type = %c.column_type,
                        "unknown column type: its values are written as their text"
                    );
                }
                let default = kind.default_value(c.default.as_deref(), &config.types);
                TableColumn {
                    name: c.name.clone(),
                    kind,
                    optional: c.nullable,
                    default,
                }
            })
            .collect();
        let captured: Vec<usize> = (0..columns.len())
            .filter(|&i| config.filters.column(db, name, &columns[i].name))
            .collect();
        let key: Vec<usize> = table
            .primary_key
            .iter()
            .filter_map(|k| columns.iter().position(|c| &c.name == k))
            .collect();
        let field_schema = |c: &TableColumn| {
            let mut s = c.kind.schema(c.optional, &config.types);
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
        let envelope = Arc::new(envelope_schema(
            &topic,
            &row_schema,
            &source_info::schema(config.flavor),
        ));
        Table {
            db: db.clone(),
            name: name.clone(),
            topic,
            columns,
            captured,
            key,
            key_schema,
            row_schema,
            envelope_schema: envelope,
        }
    }

    /// `db.table`.
    pub fn full_name(&self) -> String {
        format!("{}.{}", self.db, self.name)
    }

    /// True when the column names are these, in this order (a table map's layout).
    pub fn has_columns<'a>(&self, names: impl ExactSizeIterator<Item = &'a str>) -> bool {
        names.len() == self.columns.len() && names.zip(&self.columns).all(|(n, c)| n == c.name)
    }

    fn cell_value(
        &self,
        column: usize,
        cell: &Cell,
        config: &MySqlConfig,
        snapshot: bool,
    ) -> Result<Value, MySqlError> {
        let c = &self.columns[column];
        match (
            value(&c.kind, cell, &config.types, snapshot),
            config.convert_failure,
        ) {
            (Ok(v), _) => Ok(v),
            (Err(reason), ConvertFailure::Fail) => Err(MySqlError::Value {
                table: self.full_name(),
                column: c.name.clone(),
                reason,
            }),
            (Err(reason), ConvertFailure::Warn) => {
                tracing::warn!(
                    table = %self.full_name(),
                    column = %c.name,
                    %reason,
                    "cannot convert a value: written as null (event.converting.failure.handling.mode=warn)"
                );
                Ok(Value::Null)
            }
            (Err(_), ConvertFailure::Skip) => Ok(Value::Null),
        }
    }

    fn check_width(&self, cells: &[Cell]) -> Result<(), MySqlError> {
        if cells.len() == self.columns.len() {
            return Ok(());
        }
        Err(MySqlError::Value {
            table: self.full_name(),
            column: "*".into(),
            reason: format!(
                "a row has {} columns but the table has {}",
                cells.len(),
                self.columns.len()
            ),
        })
    }

    /// The row value (the `before` or `after` struct) of a row.
    pub fn row(
        &self,
        cells: &[Cell],
        config: &MySqlConfig,
        snapshot: bool,
    ) -> Result<Value, MySqlError> {
        self.check_width(cells)?;
        let values = self
            .captured
            .iter()
            .map(|&i| self.cell_value(i, &cells[i], config, snapshot))
            .collect::<Result<_, _>>()?;
        Ok(Value::Struct(values))
    }

    /// The key value of a row; `None` without a primary key.
    pub fn key(
        &self,
        cells: &[Cell],
        config: &MySqlConfig,
        snapshot: bool,
    ) -> Result<Option<Value>, MySqlError> {
        if self.key.is_empty() {
            return Ok(None);
        }
        self.check_width(cells)?;
        let values = self
            .key
            .iter()
            .map(|&i| self.cell_value(i, &cells[i], config, snapshot))
            .collect::<Result<_, _>>()?;
        Ok(Some(Value::Struct(values)))
    }
}
