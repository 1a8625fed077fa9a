//! `.properties` files read as Java reads them: the same files go through Tidemark's parser and
//! through `java.util.Properties.load` (tests/java/PropertiesRef.java, run as a single-file
//! program), and the entries must agree. Java is required: without it this test fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use tidemark::config::parse_properties;

/// A file exercising every rule of `Properties.load`.
const EVERYTHING: &str = concat!(
    "# a comment\n",
    "   ! another, indented\n",
    "equals=1\n",
    "colon:2\n",
    "space 3\n",
    "tab\t4\n",
    "formfeed\u{c}5\n",
    "  spaced  =  6  \n",
    "blank-then-sep   :   7\n",
    "sep-twice==8\n",
    "blank-sep-twice = :9\n",
    "no-value\n",
    "empty=\n",
    "esc\\=aped\\:key\\ with\\ blanks = v\n",
    "backslash\\\\=in key\n",
    "escapes=a\\tb\\nc\\rd\\fe\\\\f\\\"g\\'h\\qi\\bj\n",
    "unicode=caf\\u00e9 \\u00E9\n",
    "emoji=\\uD83D\\uDE00 and \\ud83d\\ude0e\n",
    "raw=café ☕\n",
    "long = one, \\\n",
    "       two, \\\n",
    "\t\u{c} three\n",
    "hash-in-continuation=a\\\n",
    "  # not a comment\n",
    "even-backslashes=ends\\\\\n",
    "next=after even\n",
    "# a comment ending in a backslash does not continue \\\n",
    "after-comment=yes\n",
    "blank-ends-continuation=x\\\n",
    "\n",
    "cr=mac\r",
    "crlf=dos\r\n",
    "continued-crlf=a\\\r\n",
    "  b\n",
    "duplicate=first\n",
    "duplicate=second\n",
    "last=continued at the end\\",
);

/// Every file's entries, as PropertiesRef prints them (`None` where Java rejects the file).
fn java_entries(files: &[PathBuf]) -> Vec<Option<Vec<String>>> {
    let java = std::env::var_os("JAVA").unwrap_or_else(|| "java".into());
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java/PropertiesRef.java");
    let output = Command::new(&java)
        .arg(&reference)
        .args(files)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {java:?} (Java 11 or later is required for this test): {e}")
        });
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut out: Vec<Option<Vec<String>>> = Vec::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        if line.starts_with("file ") {
            out.push(Some(Vec::new()));
        } else if line == "error" {
            *out.last_mut().unwrap() = None;
        } else {
            out.last_mut()
                .unwrap()
                .as_mut()
                .unwrap()
                .push(line.to_owned());
        }
    }
    assert_eq!(
        out.len(),
        files.len(),
        "PropertiesRef printed too few files"
    );
    out
}

/// Every character outside `[A-Za-z0-9]` as `\uXXXX` per UTF-16 unit, as PropertiesRef does.
fn escape(s: &str) -> String {
    let mut out = String::new();
    for unit in s.encode_utf16() {
        match char::from_u32(unit.into()) {
            Some(c) if c.is_ascii_alphanumeric() => out.push(c),
            _ => out.push_str(&format!("\\u{unit:04X}")),
        }
    }
    out
}

/// Java's entries hold a lone surrogate where ours are an error.
fn has_lone_surrogate(entries: &[String]) -> bool {
    entries.iter().any(|line| {
        let units: Vec<u16> = line
            .split("\\u")
            .skip(1)
            .map(|hex| u16::from_str_radix(&hex[..4], 16).unwrap())
            .collect();
        char::decode_utf16(units).any(|c| c.is_err())
    })
}

fn ours(text: &str) -> Result<Vec<String>, String> {
    let entries: BTreeMap<String, String> = parse_properties(text)?;
    Ok(entries
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect())
}

/// Compares every text's entries with Java's.
fn compare(texts: &[String]) {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let path = dir.path().join(format!("{i}.properties"));
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect();
    for (text, java) in texts.iter().zip(java_entries(&files)) {
        match (ours(text), java) {
            (Ok(mut ours), Some(mut java)) => {
                // Java sorts by UTF-16 unit, Rust by code point.
                ours.sort();
                java.sort();
                assert_eq!(ours, java, "entries differ for {text:?}");
            }
            (Err(_), None) => {}
            (Err(e), Some(java)) => assert!(
                has_lone_surrogate(&java),
                "we reject {text:?} ({e}); Java reads {java:?}"
            ),
            (Ok(ours), None) => panic!("we read {text:?} as {ours:?}; Java rejects it"),
        }
    }
}

#[test]
fn parser_agrees_with_java_properties() {
    let texts = [
        EVERYTHING.to_owned(),
        // A continued last line followed by a newline, and one ending in `\r`.
        "a=1\\\n".to_owned(),
        "a=1\\\r".to_owned(),
        // A continuation with nothing before it.
        "\\\n#comment\nk=v\n".to_owned(),
        "\\\n\nk=v\n".to_owned(),
        "k=v\n  \\\n".to_owned(),
        "k=v\n\\".to_owned(),
        "\\\r\n".to_owned(),
        // Errors: a malformed escape, a lone surrogate.
        "bad=\\u12G4\n".to_owned(),
        "short=\\u12".to_owned(),
        "lone=\\uD83D\n".to_owned(),
        "lone-low=\\uDE00x\n".to_owned(),
    ];
    compare(&texts);
}

/// Random files from the characters that matter to the syntax: every rule and every
/// combination a person would not think to write.
#[test]
fn parser_agrees_with_java_on_random_files() {
    const ALPHABET: &[&str] = &[
        "a", "b", "=", ":", " ", "\t", "\u{c}", "\\", "\\", "\\", "\n", "\n", "\r", "\r\n", "#",
        "!", "\\u", "00e9", "D83D", "DE00", "t", "n", "é",
    ];
    // xorshift64*, seeded, so a failure repeats.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let texts: Vec<String> = (0..400)
        .map(|_| {
            let len = next() % 40;
            (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect()
        })
        .collect();
    compare(&texts);
}
