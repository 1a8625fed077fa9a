//! How an incremental snapshot cuts a table into chunks: by key (`ORDER BY key LIMIT n`
//! after the last key read, up to the key that was last when the table's reading began), or,
//! for the rest of an interrupted initial snapshot, by `ctid` page ranges (a TID range scan
//! of a few pages after the last row emitted, up to the table's size when its reading
//! began). Positions are text: key values, or a `ctid` such as `(12,7)`.

use tokio_postgres::Client;

use super::error::PostgresError;
use super::snapshot::quote_ident;
use super::table::Table;

/// The highest item number of a `ctid`: `(page,LAST_ITEM)` is after every row of `page`.
const LAST_ITEM: u64 = 65535;

/// How chunks follow one another.
#[derive(Debug, Clone, PartialEq)]
pub enum Order {
    /// By these columns (positions in the table's columns): the primary key, or a
    /// surrogate key.
    Key(Vec<usize>),
    /// By `ctid`, this many heap pages at a time.
    Pages(u64),
}

/// A chunk's statement and, for a page range, where it ends.
pub struct Chunk {
    /// The `COPY … TO STDOUT` reading the chunk.
    pub sql: String,
    /// For a page range: the position after it and whether it reaches the table's end
    /// (a key chunk knows both only once read).
    pub pages_end: Option<(String, bool)>,
}

/// A SQL literal of a text value.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `schema.table`, quoted.
fn relation(table: &Table) -> String {
    format!(
        "{}.{}",
        quote_ident(&table.schema),
        quote_ident(&table.name)
    )
}

/// A `ctid`'s page and item.
fn tid(text: &str) -> Option<(u64, u64)> {
    let (page, item) = text
        .trim()
        .strip_prefix('(')?
        .strip_suffix(')')?
        .split_once(',')?;
    Some((page.trim().parse().ok()?, item.trim().parse().ok()?))
}

/// The order of a table's chunks and the position of its end: the last key (under
/// `filter`) or the page count as `(pages,0)`. `None` (logged) for an empty table, or a
/// table without the key chunks need. A table that is not a plain one (a partitioned
/// table's `ctid`s are its partitions') is read by key even when `by_ctid` asks otherwise.
pub async fn start(
    client: &Client,
    table: &Table,
    surrogate: Option<&str>,
    filter: Option<&str>,
    by_ctid: bool,
    chunk_size: usize,
) -> Result<Option<(Order, Vec<String>)>, PostgresError> {
    let name = format!("{}.{}", table.schema, table.name);
    if by_ctid {
        let size = pages(client, table).await?;
        if size.plain {
            if size.pages == 0 {
                tracing::info!(table = %name, "incremental snapshot: the table is empty");
                return Ok(None);
            }
            let step = ((chunk_size as f64 / size.rows_per_page) as u64).max(1);
            return Ok(Some((
                Order::Pages(step),
                vec![format!("({},0)", size.pages)],
            )));
        }
        tracing::info!(table = %name, "not a plain table: read by key from its start");
    }
    let order: Vec<usize> = match surrogate {
        Some(column) => match table.columns.iter().position(|c| c.name == column) {
            Some(i) => vec![i],
            None => {
                tracing::warn!(table = %name, column, "incremental snapshot: the surrogate key is not a column of the table; the table is skipped");
                return Ok(None);
            }
        },
        None => table.key_columns().to_vec(),
    };
    if order.is_empty() {
        tracing::warn!(table = %name, "incremental snapshot: the table has no primary key (set surrogate-key); it is skipped");
        return Ok(None);
    }
    let columns: Vec<String> = order
        .iter()
        .map(|i| quote_ident(&table.columns[*i].name))
        .collect();
    // Aliased: `ORDER BY "id"` would otherwise sort by the text output column.
    let texts: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c}::text AS key_{i}"))
        .collect();
    let descending: Vec<String> = columns.iter().map(|c| format!("{c} DESC")).collect();
    let sql = format!(
        "SELECT {} FROM {}{} ORDER BY {} LIMIT 1",
        texts.join(", "),
        relation(table),
        filter.map(|f| format!(" WHERE ({f})")).unwrap_or_default(),
        descending.join(", ")
    );
    let rows = client
        .query(sql.as_str(), &[])
        .await
        .map_err(|e| PostgresError::query(format!("reading the last key of {name}"), e))?;
    let Some(row) = rows.first() else {
        tracing::info!(table = %name, "incremental snapshot: the table is empty");
        return Ok(None);
    };
    let max = (0..order.len())
        .map(|i| row.get::<_, Option<String>>(i).unwrap_or_default())
        .collect();
    Ok(Some((Order::Key(order), max)))
}

/// A table's size in pages now, the planner's rows per page, and whether it is a plain
/// table (whose `ctid`s order its rows).
pub struct Size {
    pub pages: u64,
    pub rows_per_page: f64,
    pub plain: bool,
}

/// Reads a table's [`Size`].
pub async fn pages(client: &Client, table: &Table) -> Result<Size, PostgresError> {
    let sql = format!(
        "SELECT (pg_relation_size(c.oid) / current_setting('block_size')::bigint)::bigint, \
                c.reltuples::float8, c.relpages::bigint, c.relkind = 'r' \
         FROM pg_class c WHERE c.oid = {}::regclass",
        literal(&relation(table))
    );
    let row = client.query_one(sql.as_str(), &[]).await.map_err(|e| {
        PostgresError::query(
            format!("reading the size of {}.{}", table.schema, table.name),
            e,
        )
    })?;
    let (pages, tuples, relpages, plain): (i64, f64, i64, bool) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    Ok(Size {
        pages: pages.max(0) as u64,
        // The planner's figures; a table never analyzed counts as 100 rows a page.
        rows_per_page: if relpages > 0 && tuples > 0.0 {
            (tuples / relpages as f64).max(1.0)
        } else {
            100.0
        },
        plain,
    })
}

/// The chunk after `last` (from the start when `None`) up to `max`, under `filter`.
pub fn query(
    table: &Table,
    order: &Order,
    last: Option<&[String]>,
    max: &[String],
    filter: Option<&str>,
    chunk_size: usize,
) -> Chunk {
    let columns: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
    let mut conditions = Vec::new();
    let mut pages_end = None;
    let mut tail = String::new();
    match order {
        Order::Key(keys) => {
            let keys: Vec<String> = keys
                .iter()
                .map(|i| quote_ident(&table.columns[*i].name))
                .collect();
            let values = |v: &[String]| v.iter().map(|v| literal(v)).collect::<Vec<_>>();
            if let Some(last) = last {
                conditions.push(format!(
                    "({}) > ({})",
                    keys.join(", "),
                    values(last).join(", ")
                ));
            }
            conditions.push(format!(
                "({}) <= ({})",
                keys.join(", "),
                values(max).join(", ")
            ));
            tail = format!(" ORDER BY {} LIMIT {chunk_size}", keys.join(", "));
        }
        Order::Pages(step) => {
            let pages = max.first().and_then(|m| tid(m)).map_or(0, |(p, _)| p);
            let after = last.and_then(|l| l.first()).and_then(|l| tid(l));
            let first = match after {
                Some((page, item)) if item >= LAST_ITEM => page + 1,
                Some((page, _)) => page,
                None => 0,
            };
            let end = (first + step).min(pages).max(first);
            if let Some(last) = last.and_then(|l| l.first()) {
                conditions.push(format!("ctid > {}::tid", literal(last)));
            }
            conditions.push(format!("ctid < '({end},0)'::tid"));
            let next = format!("({},{LAST_ITEM})", end.saturating_sub(1));
            pages_end = Some((next, end >= pages));
        }
    }
    if let Some(filter) = filter {
        conditions.push(format!("({filter})"));
    }
    Chunk {
        sql: format!(
            "COPY (SELECT {} FROM {} WHERE {}{tail}) TO STDOUT",
            columns.join(", "),
            relation(table),
            conditions.join(" AND "),
        ),
        pages_end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tids_parse_and_literals_quote() {
        assert_eq!(tid("(12,7)"), Some((12, 7)));
        assert_eq!(tid(" (0, 65535) "), Some((0, 65535)));
        assert_eq!(tid("12,7"), None);
        assert_eq!(literal("it's"), "'it''s'");
    }
}
