//! QUERY events: transaction boundaries (`BEGIN`, `COMMIT`) and DDL statements. With ROW
//! binlogs, data changes come as rows events; the statements left are these.

/// What a QUERY event's statement is to the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statement {
    Begin,
    Commit,
    /// A schema change (CREATE, ALTER, DROP, RENAME).
    Ddl,
    /// `TRUNCATE [TABLE] name`.
    Truncate,
    /// Anything else (`SAVEPOINT`, `ROLLBACK TO`, session statements, …).
    Other,
}

/// The first word of a statement, skipping leading comments and whitespace.
fn first_word(sql: &str) -> String {
    let mut rest = sql.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix("/*") {
            // Executable comments (/*!40000 …*/) hold the statement itself.
            if let Some(body) = after.strip_prefix('!') {
                rest = body
                    .trim_start_matches(|c: char| c.is_ascii_digit())
                    .trim_start();
                continue;
            }
            rest = after.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else if rest.starts_with("--") || rest.starts_with('#') {
            rest = rest.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else {
            break;
        }
    }
    rest.split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

/// Classifies a QUERY event's statement.
pub fn classify(sql: &str) -> Statement {
    match first_word(sql).as_str() {
        "BEGIN" | "XA" => Statement::Begin,
        "COMMIT" => Statement::Commit,
        "CREATE" | "ALTER" | "DROP" | "RENAME" => Statement::Ddl,
        "TRUNCATE" => Statement::Truncate,
        _ => Statement::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_classified() {
        assert_eq!(classify("BEGIN"), Statement::Begin);
        assert_eq!(classify("COMMIT"), Statement::Commit);
        assert_eq!(
            classify("/* comment */ ALTER TABLE t ADD c int"),
            Statement::Ddl
        );
        assert_eq!(
            classify("/*!40000 ALTER TABLE t DISABLE KEYS */"),
            Statement::Ddl
        );
        assert_eq!(classify("-- x\ncreate table t (id int)"), Statement::Ddl);
        assert_eq!(classify("SAVEPOINT a"), Statement::Other);
        assert_eq!(classify("TRUNCATE scratch"), Statement::Truncate);
    }
}
