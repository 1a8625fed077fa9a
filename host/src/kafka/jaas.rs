//! `sasl.jaas.config` as Kafka's Java clients read it: one JAAS login module entry,
//! `<LoginModule class> <flag> <option>=<value> … ;`, values quoted (`"…"` or `'…'`, with
//! Java's backslash escapes) or bare words, `//` and `/* */` comments allowed. Only the user
//! name and password of the PLAIN and SCRAM login modules mean something to librdkafka.

use std::collections::BTreeMap;

/// Kafka's PLAIN login module.
pub const PLAIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";
/// Kafka's SCRAM login module (SCRAM-SHA-256 and SCRAM-SHA-512).
pub const SCRAM_MODULE: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";

/// Login modules Connect users write that librdkafka cannot stand in for, and why.
const UNSUPPORTED_MODULES: &[(&str, &str)] = &[
    (
        "com.sun.security.auth.module.Krb5LoginModule",
        "Kerberos (GSSAPI) needs Cyrus SASL, which this build's static librdkafka leaves out",
    ),
    (
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule",
        "OAUTHBEARER is not supported",
    ),
    (
        "org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredLoginModule",
        "OAUTHBEARER is not supported",
    ),
];

/// The credentials of a PLAIN or SCRAM login module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// One parsed login module entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    module: String,
    flag: String,
    options: BTreeMap<String, String>,
}

/// Reads the user name and password from a `sasl.jaas.config` value. The error says what is
/// wrong without repeating the value (it holds a password).
pub fn credentials(config: &str) -> Result<Credentials, String> {
    let entry = parse(config)?;
    if let Some((_, why)) = UNSUPPORTED_MODULES.iter().find(|(m, _)| *m == entry.module) {
        return Err(format!("login module {}: {why}", entry.module));
    }
    if entry.module != PLAIN_MODULE && entry.module != SCRAM_MODULE {
        return Err(format!(
            "login module {} is not supported: use {PLAIN_MODULE} or {SCRAM_MODULE}",
            entry.module
        ));
    }
    let mut username = None;
    let mut password = None;
    for (key, value) in entry.options {
        match key.as_str() {
            "username" => username = Some(value),
            "password" => password = Some(value),
            "tokenauth" if entry.module == SCRAM_MODULE => {
                if value.eq_ignore_ascii_case("true") {
                    return Err(
                        "tokenauth=true (delegation tokens) is not supported by librdkafka".into(),
                    );
                }
            }
            other => {
                return Err(format!(
                    "option {other} of {} has no meaning for a client: only username and \
                     password do",
                    entry.module
                ));
            }
        }
    }
    match (username, password) {
        (Some(username), Some(password)) => Ok(Credentials { username, password }),
        (None, _) => Err(format!("{} needs username=\"…\"", entry.module)),
        (_, None) => Err(format!("{} needs password=\"…\"", entry.module)),
    }
}

/// A token of the JAAS syntax.
#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Equals,
    Semicolon,
}

fn parse(config: &str) -> Result<Entry, String> {
    let tokens = tokenize(config)?;
    let mut tokens = tokens.into_iter().peekable();
    let word = |token: Option<Token>, what: &str| match token {
        Some(Token::Word(w)) => Ok(w),
        Some(other) => Err(format!("expected {what}, found {}", describe(&other))),
        None => Err(format!("expected {what}, found the end")),
    };
    let module = word(tokens.next(), "a login module class")?;
    let flag = word(tokens.next(), "a control flag (required)")?;
    if !["required", "requisite", "sufficient", "optional"].contains(&flag.as_str()) {
        return Err(format!(
            "the control flag after {module} must be required (or requisite, sufficient, \
             optional), not {flag}"
        ));
    }
    let mut options = BTreeMap::new();
    loop {
        let key = match tokens.next() {
            Some(Token::Semicolon) => break,
            Some(Token::Word(key)) => key,
            Some(other) => {
                return Err(format!(
                    "expected an option name, found {}",
                    describe(&other)
                ));
            }
            None => return Err("the login module entry does not end with ';'".into()),
        };
        if tokens.next() != Some(Token::Equals) {
            return Err(format!("expected '=' after option {key}"));
        }
        let value = match tokens.next() {
            Some(Token::Word(v) | Token::Quoted(v)) => v,
            _ => return Err(format!("option {key} has no value")),
        };
        options.insert(key, value);
    }
    if let Some(extra) = tokens.next() {
        return Err(format!(
            "a client takes exactly one login module; found {} after the first entry's ';'",
            describe(&extra)
        ));
    }
    Ok(Entry {
        module,
        flag,
        options,
    })
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(w) => format!("'{w}'"),
        Token::Quoted(_) => "a quoted value".into(),
        Token::Equals => "'='".into(),
        Token::Semicolon => "';'".into(),
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '=' => tokens.push(Token::Equals),
            ';' => tokens.push(Token::Semicolon),
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' || c == '\r' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                loop {
                    match chars.next() {
                        Some('/') if last == '*' => break,
                        Some(c) => last = c,
                        None => return Err("a /* comment is not closed".into()),
                    }
                }
            }
            '"' | '\'' => tokens.push(Token::Quoted(quoted(&mut chars, c)?)),
            _ => {
                let mut word = String::from(c);
                while let Some(&next) = chars.peek() {
                    if next.is_whitespace() || matches!(next, '=' | ';' | '"' | '\'') {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

/// A quoted value after its opening `quote`, with the escapes of Java's `StreamTokenizer`
/// (which Kafka's JAAS parser uses): `\n \t \r \b \f \a \v`, octal `\0`–`\377`, and a
/// backslash before any other character standing for that character.
fn quoted(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    quote: char,
) -> Result<String, String> {
    let mut value = String::new();
    loop {
        match chars.next() {
            None | Some('\n' | '\r') => return Err("a quoted value is not closed".into()),
            Some(c) if c == quote => return Ok(value),
            Some('\\') => {
                let escaped = chars
                    .next()
                    .ok_or_else(|| "a quoted value ends with a backslash".to_owned())?;
                match escaped {
                    'n' => value.push('\n'),
                    't' => value.push('\t'),
                    'r' => value.push('\r'),
                    'b' => value.push('\u{8}'),
                    'f' => value.push('\u{c}'),
                    'a' => value.push('\u{7}'),
                    'v' => value.push('\u{b}'),
                    '0'..='7' => {
                        let mut code = escaped.to_digit(8).unwrap_or(0);
                        // Up to three digits, and only while the value stays below \400.
                        let most = if escaped <= '3' { 2 } else { 1 };
                        for _ in 0..most {
                            match chars.peek().and_then(|c| c.to_digit(8)) {
                                Some(d) => {
                                    code = code * 8 + d;
                                    chars.next();
                                }
                                None => break,
                            }
                        }
                        value.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                    other => value.push(other),
                }
            }
            Some(c) => value.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(config: &str) -> (String, String) {
        let c = credentials(config).unwrap();
        (c.username, c.password)
    }

    #[test]
    fn connect_users_entries() {
        assert_eq!(
            ok(
                r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-secret";"#
            ),
            ("alice".into(), "alice-secret".into())
        );
        assert_eq!(
            ok(
                "org.apache.kafka.common.security.plain.PlainLoginModule required\n  username=bob\n  password='b\"ob';"
            ),
            ("bob".into(), "b\"ob".into())
        );
        // Escapes, comments, spaces around '=' and the other flags.
        assert_eq!(
            ok(
                r#"/* creds */ org.apache.kafka.common.security.plain.PlainLoginModule optional // x
               username = "a\"l\\i\tce" password="p\101\u";"#
            ),
            ("a\"l\\i\tce".into(), "pAu".into())
        );
        assert_eq!(
            ok(
                r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="p=;x" tokenauth="false";"#
            ),
            ("u".into(), "p=;x".into())
        );
    }

    #[test]
    fn malformed_entries_say_what_is_wrong_without_the_password() {
        let err = |config: &str| credentials(config).unwrap_err();
        let e = err(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="secret-1""#,
        );
        assert!(e.contains("';'"), "{e}");
        assert!(!e.contains("secret-1"), "{e}");
        let e = err(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="secret-2;"#,
        );
        assert!(e.contains("not closed"), "{e}");
        assert!(!e.contains("secret-2"), "{e}");
        let e = err(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule username="a" password="b";"#,
        );
        assert!(e.contains("control flag"), "{e}");
        let e = err(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="a";"#,
        );
        assert!(e.contains("password"), "{e}");
        let e = err(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required password="b";"#,
        );
        assert!(e.contains("username"), "{e}");
        let e = err(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password;"#,
        );
        assert!(e.contains("'='"), "{e}");
        let e = err(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="b"; org.apache.kafka.common.security.plain.PlainLoginModule required;"#,
        );
        assert!(e.contains("exactly one"), "{e}");
        let e = err(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="b" serviceName="kafka";"#,
        );
        assert!(e.contains("serviceName"), "{e}");
        assert!(err("").contains("login module class"));
    }

    #[test]
    fn kerberos_oauth_and_unknown_modules_are_refused() {
        let e = credentials(r#"com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab="/k" principal="kafka@X";"#).unwrap_err();
        assert!(e.contains("Kerberos"), "{e}");
        let e = credentials(
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
        )
        .unwrap_err();
        assert!(e.contains("OAUTHBEARER"), "{e}");
        let e =
            credentials(r#"com.example.Login required username="a" password="b";"#).unwrap_err();
        assert!(e.contains("com.example.Login"), "{e}");
        let e = credentials(r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="a" password="b" tokenauth=true;"#).unwrap_err();
        assert!(e.contains("tokenauth"), "{e}");
    }
}
