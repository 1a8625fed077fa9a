//! A syntax check of conditions before CEL's parser sees them.
//!
//! The parser of `cel-parser` 0.10 aborts (panics) on some malformed input instead of
//! returning an error, and a plugin cannot survive a panic. So a condition is first checked
//! against CEL's grammar here, and only text that passes goes to that parser. The check
//! accepts a subset of CEL: no triple-quoted strings, raw or triple-quoted bytes, escaped
//! (backquoted) identifiers, leading-dot names, message construction (`T{f: 1}`) or optional
//! syntax (`a.?b`, `[?x]`), none of which a filter condition needs.

/// Deepest nesting of expressions (brackets, call arguments, conditional operators).
const MAX_NESTING: usize = 24;
/// Most tokens in a condition: the parser and the interpreter recurse over long chains too.
const MAX_TOKENS: usize = 512;

/// The kinds of token of CEL's lexer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ident,
    /// `true`, `false`, `null`.
    Constant,
    Int,
    Uint,
    Float,
    /// A string; the quote it was written with.
    Str(char),
    Bytes,
    /// An operator or punctuation.
    Op(&'static str),
    End,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
    /// Byte offset in the condition.
    at: usize,
}

/// Checks that `source` is a condition in the supported subset of CEL's grammar.
pub fn check(source: &str) -> Result<(), String> {
    let tokens = lex(source)?;
    if tokens.len() > MAX_TOKENS {
        return Err(format!("it has more than {MAX_TOKENS} tokens"));
    }
    let mut parser = Recognizer {
        source,
        tokens: &tokens,
        next: 0,
        depth: 0,
    };
    parser.expr()?;
    match parser.peek().kind {
        Kind::End => Ok(()),
        _ => parser.fail("the end of the condition"),
    }
}

/// True when a double-quoted string contains `$`, which Groovy would interpolate.
pub fn has_interpolation(source: &str) -> bool {
    lex(source).is_ok_and(|tokens| {
        tokens
            .iter()
            .any(|t| t.kind == Kind::Str('"') && t.text.contains('$'))
    })
}

const OPERATORS: [&str; 24] = [
    "==", "!=", "<=", ">=", "&&", "||", "<", ">", "[", "]", "{", "}", "(", ")", ".", ",", "-", "!",
    "?", ":", "+", "*", "/", "%",
];

fn lex(source: &str) -> Result<Vec<Token<'_>>, String> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &source[at..];
        let c = bytes[at];
        let (kind, len) = if matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c') {
            at += 1;
            continue;
        } else if rest.starts_with("//") {
            at += rest.find('\n').unwrap_or(rest.len());
            continue;
        } else if let Some((kind, len)) = string(rest)? {
            (kind, len)
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let len = rest
                .bytes()
                .position(|b| !(b.is_ascii_alphanumeric() || b == b'_'))
                .unwrap_or(rest.len());
            let kind = match &rest[..len] {
                "true" | "false" | "null" => Kind::Constant,
                "in" => Kind::Op("in"),
                _ => Kind::Ident,
            };
            (kind, len)
        } else if c.is_ascii_digit()
            || (c == b'.' && rest.as_bytes().get(1).is_some_and(u8::is_ascii_digit))
        {
            number(rest)
        } else if let Some(op) = OPERATORS.iter().find(|op| rest.starts_with(**op)) {
            (Kind::Op(op), op.len())
        } else {
            let found = rest.chars().next().unwrap_or(' ');
            let at = column(source, at);
            return Err(format!("unexpected character {found:?} at {at}"));
        };
        tokens.push(Token {
            kind,
            text: &rest[..len],
            at,
        });
        at += len;
    }
    tokens.push(Token {
        kind: Kind::End,
        text: "",
        at: source.len(),
    });
    Ok(tokens)
}

/// A number token at the start of `rest`: CEL's `NUM_INT`, `NUM_UINT` or `NUM_FLOAT`.
fn number(rest: &str) -> (Kind, usize) {
    let b = rest.as_bytes();
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    if rest.starts_with("0x") || rest.starts_with("0X") {
        let hex = b[2..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
        if rest.starts_with("0x") && hex > 0 {
            return match b.get(2 + hex) {
                Some(b'u' | b'U') => (Kind::Uint, 3 + hex),
                _ => (Kind::Int, 2 + hex),
            };
        }
        // `0X...` and `0x` without digits lex as `0` followed by a name.
        return (Kind::Int, 1);
    }
    let mut len = digits(0);
    let mut float = false;
    if b.get(len) == Some(&b'.') && b.get(len + 1).is_some_and(u8::is_ascii_digit) {
        len += 1 + digits(len + 1);
        float = true;
    }
    if matches!(b.get(len), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(b.get(len + 1), Some(b'+' | b'-')));
        let exponent = digits(len + 1 + sign);
        if exponent > 0 {
            len += 1 + sign + exponent;
            float = true;
        }
    }
    if float {
        (Kind::Float, len)
    } else if matches!(b.get(len), Some(b'u' | b'U')) {
        (Kind::Uint, len + 1)
    } else {
        (Kind::Int, len)
    }
}

/// A string or bytes token at the start of `rest`, if one starts there.
fn string(rest: &str) -> Result<Option<(Kind, usize)>, String> {
    let b = rest.as_bytes();
    let (bytes, raw, quote_at) = match b {
        [b'b' | b'B', b'r' | b'R', b'\'' | b'"', ..] => (true, true, 2),
        [b'b' | b'B', b'\'' | b'"', ..] => (true, false, 1),
        [b'r' | b'R', b'\'' | b'"', ..] => (false, true, 1),
        [b'\'' | b'"', ..] => (false, false, 0),
        _ => return Ok(None),
    };
    let quote = b[quote_at];
    let body = &rest[quote_at..];
    if body.as_bytes().starts_with(&[quote, quote, quote]) {
        return Err("triple-quoted strings are not supported".into());
    }
    if bytes && raw {
        return Err("raw bytes literals are not supported".into());
    }
    let mut chars = body.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '\n' | '\r' => break,
            '\\' if !raw => escape(&mut chars.by_ref().map(|(_, c)| c))?,
            c if c == char::from(quote) => {
                let kind = if bytes {
                    Kind::Bytes
                } else {
                    Kind::Str(char::from(quote))
                };
                return Ok(Some((kind, quote_at + i + 1)));
            }
            _ => {}
        }
    }
    Err(format!("a string is not closed: {rest}"))
}

/// Checks the escape sequence after a backslash.
fn escape(chars: &mut impl Iterator<Item = char>) -> Result<(), String> {
    let hex = |chars: &mut dyn Iterator<Item = char>, n: usize| {
        (0..n).all(|_| chars.next().is_some_and(|c| c.is_ascii_hexdigit()))
    };
    let ok = match chars.next() {
        Some('a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '"' | '\'' | '\\' | '?' | '`') => true,
        Some('x' | 'X') => hex(chars, 2),
        Some('u') => hex(chars, 4),
        Some('U') => hex(chars, 8),
        Some('0'..='3') => (0..2).all(|_| chars.next().is_some_and(|c| ('0'..='7').contains(&c))),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err("a string has an invalid escape sequence".into())
    }
}

fn column(source: &str, at: usize) -> String {
    format!("column {}", source[..at].chars().count() + 1)
}

/// A recursive-descent recognizer for CEL's grammar (see `CEL.g4` in `cel-parser`).
struct Recognizer<'t, 'a> {
    source: &'a str,
    tokens: &'t [Token<'a>],
    next: usize,
    depth: usize,
}

impl Recognizer<'_, '_> {
    fn peek(&self) -> Token<'_> {
        let last = self.tokens.len().saturating_sub(1);
        self.tokens
            .get(self.next.min(last))
            .copied()
            .unwrap_or(Token {
                kind: Kind::End,
                text: "",
                at: self.source.len(),
            })
    }

    fn peek_kind(&self, ahead: usize) -> Kind {
        self.tokens
            .get(self.next + ahead)
            .map_or(Kind::End, |t| t.kind)
    }

    fn eat(&mut self, op: &str) -> bool {
        let found = matches!(self.peek().kind, Kind::Op(o) if o == op);
        if found {
            self.next += 1;
        }
        found
    }

    /// Consumes `op`, or fails saying it was expected.
    fn expect(&mut self, op: &str) -> Result<(), String> {
        if self.eat(op) {
            Ok(())
        } else {
            self.fail(&format!("'{op}'"))
        }
    }

    /// An error saying what was expected and what was found instead, and where.
    fn fail(&self, wanted: &str) -> Result<(), String> {
        let token = self.peek();
        let found = match token.kind {
            Kind::End => "the end".to_owned(),
            _ => format!("{:?}", token.text),
        };
        Err(format!(
            "expected {wanted} but found {found} at {}",
            column(self.source, token.at)
        ))
    }

    fn expr(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(format!("it nests deeper than {MAX_NESTING} levels"));
        }
        self.or()?;
        if self.eat("?") {
            self.or()?;
            self.expect(":")?;
            self.expr()?;
        }
        self.depth -= 1;
        Ok(())
    }

    fn or(&mut self) -> Result<(), String> {
        self.and()?;
        while self.eat("||") {
            self.and()?;
        }
        Ok(())
    }

    fn and(&mut self) -> Result<(), String> {
        self.relation()?;
        while self.eat("&&") {
            self.relation()?;
        }
        Ok(())
    }

    fn relation(&mut self) -> Result<(), String> {
        self.calc()?;
        while ["<", "<=", ">=", ">", "==", "!=", "in"]
            .iter()
            .any(|op| self.eat(op))
        {
            self.calc()?;
        }
        Ok(())
    }

    fn calc(&mut self) -> Result<(), String> {
        self.unary()?;
        while ["*", "/", "%", "+", "-"].iter().any(|op| self.eat(op)) {
            self.unary()?;
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<(), String> {
        let op = ["!", "-"].into_iter().find(|op| self.eat(op));
        if let Some(op) = op
            && matches!(self.peek().kind, Kind::Op(o) if o == op)
        {
            // cel-parser 0.10 reads an even run of these as a single one.
            return Err(format!(
                "a repeated '{op}' is not supported; use parentheses: {op}({op}x)"
            ));
        }
        self.member()
    }

    fn member(&mut self) -> Result<(), String> {
        self.primary()?;
        loop {
            if self.eat(".") {
                if self.peek().kind != Kind::Ident {
                    return self.fail("a field name after '.'");
                }
                self.next += 1;
                if self.eat("(") {
                    self.args()?;
                }
            } else if self.eat("[") {
                self.expr()?;
                self.expect("]")?;
            } else {
                return Ok(());
            }
        }
    }

    fn primary(&mut self) -> Result<(), String> {
        match self.peek().kind {
            Kind::Ident => {
                self.next += 1;
                if self.eat("(") {
                    self.args()?;
                }
                Ok(())
            }
            Kind::Constant | Kind::Int | Kind::Uint | Kind::Float | Kind::Str(_) | Kind::Bytes => {
                self.next += 1;
                Ok(())
            }
            // A negative number literal, as after `!`.
            Kind::Op("-") if matches!(self.peek_kind(1), Kind::Int | Kind::Float) => {
                self.next += 2;
                Ok(())
            }
            Kind::Op("(") => {
                self.next += 1;
                self.expr()?;
                self.expect(")")
            }
            Kind::Op("[") => {
                self.next += 1;
                self.list("]", false)
            }
            Kind::Op("{") => {
                self.next += 1;
                self.list("}", true)
            }
            _ => self.fail("a value, a name or '('"),
        }
    }

    /// Call arguments after `(`: no trailing comma.
    fn args(&mut self) -> Result<(), String> {
        if self.eat(")") {
            return Ok(());
        }
        self.expr()?;
        while self.eat(",") {
            self.expr()?;
        }
        self.expect(")")
    }

    /// List elements or map entries (`key: value`) up to `close`, with an optional trailing
    /// comma (also alone: `[,]` is valid CEL).
    fn list(&mut self, close: &str, entries: bool) -> Result<(), String> {
        if self.eat(",") {
            return self.expect(close);
        }
        loop {
            if self.eat(close) {
                return Ok(());
            }
            self.expr()?;
            if entries {
                self.expect(":")?;
                self.expr()?;
            }
            if !self.eat(",") {
                return self.expect(close);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_cel_conditions() {
        for source in [
            "value.op == 'u' && value.after.id > 5",
            "value.op != \"d\" || value.before.id != 2",
            "topic.startsWith('dbz') ? key.id in [1, 2u, -3, 0x10] : !-1.5e3 < .5",
            "!(!true) && -(-1) == 1 && 1 - -1 == 2",
            "has(value.after) && value.after.tags.exists(t, t == 'vip') // a comment",
            "{'a': [1,], 'b': {}}['a'][0] == 1 && [,] == [] && size(b'\\x01') == 1",
            "value.get('op').matches(r'\\d+') && header.h.value == 'x'",
        ] {
            assert_eq!(check(source), Ok(()), "{source}");
        }
    }

    #[test]
    fn rejects_malformed_and_unsupported_conditions() {
        for (source, needle) in [
            ("valuevalue ==", "found the end"),
            ("value.op == 'd", "not closed"),
            ("value?.op", "found \".\""),
            ("value.op === 'u'", "unexpected character '='"),
            ("f(1,)", "found \")\""),
            ("a.?b", "a field name"),
            ("T{f: 1}", "found \"{\""),
            ("!-x", "a value"),
            ("'''x'''", "triple"),
            ("'\\q'", "escape"),
            ("a # b", "'#'"),
            ("a ? b ? c : d : e", "':'"),
            ("!!value.after.name", "repeated '!'"),
            ("--1 == 1", "repeated '-'"),
        ] {
            let err = check(source).err().unwrap_or_default();
            assert!(err.contains(needle), "{source}: {err}");
        }
        let deep = format!("{}1{}", "(".repeat(30), ")".repeat(30));
        assert!(check(&deep).err().unwrap_or_default().contains("nests"));
        let long = vec!["a"; 300].join(" + ");
        assert!(check(&long).err().unwrap_or_default().contains("tokens"));
    }

    #[test]
    fn finds_groovy_interpolation() {
        assert!(has_interpolation("\"${value.op}\" == 'u'"));
        assert!(!has_interpolation("value.op == '$' && \"a\" == 'b'"));
    }
}
