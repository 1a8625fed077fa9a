//! Hiding the values that config providers resolved: error messages show
//! `<secret from ${file:…:key}>` where such a value would appear, and so does the log when it
//! is written through [`RedactingStderr`].

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};
use std::sync::{PoisonError, RwLock};

use regex::{Regex, RegexBuilder};

use super::Properties;

/// Values resolved from config providers, each with the variable it replaced.
#[derive(Clone, Default)]
pub struct Secrets {
    /// `(value, variable)`, longest value first, so that a value inside another one does not
    /// leave the rest of the longer one showing.
    hidden: Vec<(String, String)>,
    /// Any of the values, longest first.
    pattern: Option<Regex>,
}

/// Everything resolved so far in this process, hidden from the log.
static LOGGED: RwLock<Secrets> = RwLock::new(Secrets {
    hidden: Vec::new(),
    pattern: None,
});

impl Secrets {
    /// Secrets from `(value, variable)` pairs; empty values hide nothing and are skipped.
    pub(super) fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Secrets {
        let mut secrets = Secrets::default();
        secrets.extend(pairs);
        secrets
    }

    fn extend(&mut self, pairs: impl IntoIterator<Item = (String, String)>) {
        for (value, variable) in pairs {
            // As written, and as `{:?}` shows it (a log field may be written that way).
            let escaped = value.escape_debug().to_string();
            for value in [value, escaped] {
                if !value.is_empty() && !self.hidden.iter().any(|(v, _)| *v == value) {
                    self.hidden.push((value, variable.clone()));
                }
            }
        }
        self.hidden
            .sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
        // One group per value, so a match tells which value it is; case-insensitive, so a
        // value changed to lower or upper case is hidden as well.
        let alternatives: Vec<String> = self
            .hidden
            .iter()
            .map(|(value, _)| format!("({})", regex::escape(value)))
            .collect();
        self.pattern = (!alternatives.is_empty()).then(|| {
            RegexBuilder::new(&alternatives.join("|"))
                .case_insensitive(true)
                .build()
                .expect("escaped literals form a valid regex")
        });
    }

    /// Whether nothing is hidden.
    pub fn is_empty(&self) -> bool {
        self.hidden.is_empty()
    }

    /// `text` with each resolved value replaced by `<secret from ${provider:path:key}>`.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let Some(pattern) = &self.pattern else {
            return Cow::Borrowed(text);
        };
        pattern.replace_all(text, |found: &regex::Captures<'_>| {
            let variable = (1..found.len())
                .find(|&group| found.get(group).is_some())
                .map_or("a config provider", |group| {
                    self.hidden[group - 1].1.as_str()
                });
            format!("<secret from {variable}>")
        })
    }

    /// Hides these values from the log written through [`RedactingStderr`] from now on.
    pub(super) fn hide_from_log(&self) {
        if !self.is_empty() {
            LOGGED
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(self.hidden.iter().cloned());
        }
    }
}

/// Names the variables only.
impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.hidden.iter().map(|(_, variable)| variable))
            .finish()
    }
}

impl Properties {
    /// The values config providers resolved (see [`super::resolve_providers`]).
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }
}

/// Shows each value with what config providers resolved hidden.
impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.entries
                    .iter()
                    .map(|(key, value)| (key, self.secrets.redact(value))),
            )
            .finish()
    }
}

/// Standard error with every value a config provider resolved in this process hidden: the
/// log writer of the `tidemark` binary.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedactingStderr;

/// A writer to standard error that hides resolved values in what it writes. The log's
/// formatter writes each event in one call, so a value is never split between calls.
#[derive(Debug)]
pub struct RedactedWriter(io::Stderr);

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RedactingStderr {
    type Writer = RedactedWriter;

    fn make_writer(&'a self) -> RedactedWriter {
        RedactedWriter(io::stderr())
    }
}

impl Write for RedactedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let secrets = LOGGED.read().unwrap_or_else(PoisonError::into_inner);
        if secrets.is_empty() {
            return self.0.write(buf);
        }
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(secrets.redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_replaced_by_their_variables() {
        let secrets = Secrets::new([
            ("hunter2".to_owned(), "${file:/s.properties:pw}".to_owned()),
            ("hunter".to_owned(), "${env:USER_NAME}".to_owned()),
            (String::new(), "${env:EMPTY}".to_owned()),
        ]);
        assert_eq!(
            secrets.redact("user hunter, password hunter2, shouted HUNTER2."),
            "user <secret from ${env:USER_NAME}>, password <secret from ${file:/s.properties:pw}>, \
             shouted <secret from ${file:/s.properties:pw}>."
        );
        assert!(matches!(secrets.redact("nothing here"), Cow::Borrowed(_)));
        let quoted = Secrets::new([("a\"b\nc".to_owned(), "${env:Q}".to_owned())]);
        assert_eq!(
            quoted.redact(&format!("{:?}", "a\"b\nc")),
            "\"<secret from ${env:Q}>\""
        );
        assert_eq!(
            format!("{secrets:?}"),
            r#"["${file:/s.properties:pw}", "${env:USER_NAME}"]"#
        );
    }

    #[test]
    fn debug_of_properties_hides_resolved_values() {
        let mut props = Properties::from_pairs([("database.password", "hunter2")]);
        props.secrets = Secrets::new([("hunter2".to_owned(), "${env:PW}".to_owned())]);
        let shown = format!("{props:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<secret from ${env:PW}>"), "{shown}");
    }
}
