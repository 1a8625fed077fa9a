//! How far a binlog reader is behind the server's end (see [`crate::sources::usage`]).

use mysql_async::prelude::Queryable;

use super::{MySqlConfig, MySqlError, catalog};
use crate::sources::usage::DatabaseUsage;

/// The distance from `file` at `pos` to the end of the server's newest binlog, by the sizes
/// `SHOW BINARY LOGS` lists; `None` when `file` is not among them any more (purged: the
/// connector cannot resume there).
pub async fn binlog_usage(
    config: &MySqlConfig,
    file: &str,
    pos: i64,
) -> Result<Option<DatabaseUsage>, MySqlError> {
    let mut conn = catalog::connect(config).await?;
    let files: Vec<(String, i64)> = conn
        .query::<mysql_async::Row, _>("SHOW BINARY LOGS")
        .await
        .map_err(|e| MySqlError::query("listing the binlog files", e))?
        .iter()
        .filter_map(|row| {
            let name = catalog::text(row, 0)?;
            let size = catalog::text(row, 1)?.parse().ok()?;
            Some((name, size))
        })
        .collect();
    let _ = conn.disconnect().await;
    Ok(distance(&files, file, pos))
}

/// The distance from `file` at `pos` given each binlog file's size, in order.
fn distance(files: &[(String, i64)], file: &str, pos: i64) -> Option<DatabaseUsage> {
    let at = files.iter().position(|(name, _)| name == file)?;
    let rest: i64 = files[at + 1..].iter().map(|(_, size)| size).sum();
    Some(DatabaseUsage::Binlog {
        bytes_behind: (files[at].1 - pos).max(0) + rest,
        files_behind: (files.len() - at - 1) as i64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_the_rest_of_the_file_and_every_later_one() {
        let files = [
            ("b.000001".to_owned(), 1000),
            ("b.000002".to_owned(), 500),
            ("b.000003".to_owned(), 300),
        ];
        assert_eq!(
            distance(&files, "b.000002", 400),
            Some(DatabaseUsage::Binlog {
                bytes_behind: 100 + 300,
                files_behind: 1
            })
        );
        assert_eq!(distance(&files, "b.000000", 4), None, "purged");
    }
}
