//! A filter condition: parsed and checked once, then evaluated per record with CEL.

use cel_interpreter::{Context, Value as Cel};
use cel_parser::Parser;
use cel_parser::ast::{CallExpr, EntryExpr, Expr, IdedExpr, operators};

use crate::fast::Fast;
use crate::{functions, paths, syntax};

/// The variables Debezium binds for a condition, in the order they are documented.
pub const VARIABLES: [&str; 6] = [
    "value",
    "key",
    "valueSchema",
    "keySchema",
    "topic",
    "header",
];

/// CEL's functions that conditions may call (the interpreter's standard set without time
/// functions) plus `get`.
const FUNCTIONS: [&str; 13] = [
    "contains",
    "size",
    "max",
    "min",
    "startsWith",
    "endsWith",
    "string",
    "bytes",
    "double",
    "int",
    "uint",
    "matches",
    "get",
];

/// The operators CEL's parser produces that the interpreter evaluates.
const OPERATORS: [&str; 19] = [
    operators::CONDITIONAL,
    operators::LOGICAL_AND,
    operators::LOGICAL_OR,
    operators::LOGICAL_NOT,
    operators::SUBSTRACT,
    operators::ADD,
    operators::MULTIPLY,
    operators::DIVIDE,
    operators::MODULO,
    operators::EQUALS,
    operators::NOT_EQUALS,
    operators::GREATER_EQUALS,
    operators::LESS_EQUALS,
    operators::GREATER,
    operators::LESS,
    operators::NEGATE,
    operators::INDEX,
    operators::NOT_STRICTLY_FALSE,
    operators::IN,
];

/// The language a condition was written for. Every language is evaluated as CEL; Groovy and
/// JavaScript conditions must be CEL-compatible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Cel,
    Groovy,
    JavaScript,
}

/// A compiled condition.
pub struct Condition {
    source: String,
    expr: IdedExpr,
    context: Context<'static>,
    variables: Vec<&'static str>,
    /// The fields of `value` the condition reads (`None`: the whole value).
    value_paths: Option<Vec<Vec<String>>>,
    /// The fields of `key` the condition reads (`None`: the whole key).
    key_paths: Option<Vec<Vec<String>>>,
    /// The condition's fast form, when it has one.
    fast: Option<Fast>,
}

impl Condition {
    /// Parses and checks `source` (the `condition` setting): unknown variables or functions,
    /// and CEL syntax that the interpreter cannot run, are errors here rather than on every
    /// record.
    pub fn compile(source: &str, language: Language) -> Result<Condition, String> {
        let (expr, variables) = parse(source, language).map_err(|problem| match language {
            Language::Cel => {
                format!("setting 'condition' {source:?} is not a valid condition: {problem}")
            }
            _ => format!(
                "setting 'condition' {source:?} must be CEL-compatible: Tidemark evaluates \
                 Groovy and JavaScript conditions as CEL (e.g. value.op == 'u' && \
                 value.after.id > 5), and this one is not: {problem}"
            ),
        })?;
        let mut context = Context::default();
        context.add_function("get", functions::get);
        context.add_function(functions::ITERABLE, functions::iterable);
        if language != Language::Cel {
            context.add_function("matches", functions::matches_whole);
        }
        if language == Language::Groovy {
            for (operator, function) in functions::GROOVY_ORDER {
                context.add_function(function, functions::groovy_order(operator));
            }
        }
        let value_paths = paths::field_paths(&expr, "value");
        let key_paths = paths::field_paths(&expr, "key");
        let fast = Fast::compile(&expr, &|part| match part {
            tidemark_sdk::Part::Value => value_paths.as_deref(),
            tidemark_sdk::Part::Key => key_paths.as_deref(),
        });
        Ok(Condition {
            source: source.to_owned(),
            value_paths,
            key_paths,
            fast,
            expr,
            context,
            variables,
        })
    }

    /// The condition's [fast form](crate::fast), when it is a comparison of fields with
    /// literals (or several joined by `&&`, `||` and `!`).
    pub fn fast(&self) -> Option<&Fast> {
        self.fast.as_ref()
    }

    /// The condition's text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True when the condition reads `variable` (one of [`VARIABLES`]).
    pub fn uses(&self, variable: &str) -> bool {
        self.variables.contains(&variable)
    }

    /// The field paths of `value` (`key` for [`Part::Key`](tidemark_sdk::Part)) the
    /// condition reads, none a prefix of another; `None` when it needs the whole part.
    pub fn paths(&self, part: tidemark_sdk::Part) -> Option<&[Vec<String>]> {
        match part {
            tidemark_sdk::Part::Value => self.value_paths.as_deref(),
            tidemark_sdk::Part::Key => self.key_paths.as_deref(),
        }
    }

    /// Evaluates the condition with these variables bound; it must yield a boolean. Every
    /// variable the condition [`uses`](Condition::uses) must be bound.
    pub fn evaluate(&self, bindings: Vec<(&'static str, Cel)>) -> Result<bool, String> {
        let mut context = self.context.new_inner_scope();
        for (name, value) in bindings {
            context.add_variable_from_value(name, value);
        }
        match context.resolve(&self.expr) {
            Ok(Cel::Bool(b)) => Ok(b),
            Ok(other) => Err(shorten(format!("it returned {other:?}, not a boolean"))),
            Err(e) => Err(shorten(e.to_string())),
        }
    }
}

/// Longest error message kept: errors quote values, which may be whole records.
const MAX_MESSAGE: usize = 300;

fn shorten(mut message: String) -> String {
    if let Some((at, _)) = message.char_indices().nth(MAX_MESSAGE) {
        message.truncate(at);
        message.push_str("...");
    }
    message
}

/// The checked expression and the variables it reads.
fn parse(source: &str, language: Language) -> Result<(IdedExpr, Vec<&'static str>), String> {
    // CEL's parser must only see text that passes the syntax check: it panics on some errors.
    syntax::check(source)?;
    if language == Language::Groovy && syntax::has_interpolation(source) {
        return Err("Groovy string interpolation (\"$...\") is not supported; \
                    use single-quoted strings"
            .into());
    }
    let mut expr = Parser::new()
        .parse(source)
        .map_err(|e| e.to_string().trim().to_owned())?;
    let mut check = Check {
        groovy: language == Language::Groovy,
        scope: Vec::new(),
        variables: Vec::new(),
    };
    check.expr(&mut expr)?;
    Ok((expr, check.variables))
}

/// Walks an expression: resolves names against the comprehension variables in scope and
/// [`VARIABLES`], rejects what the interpreter cannot evaluate, guards comprehensions, and in
/// Groovy conditions gives relational operators Groovy's ordering.
struct Check {
    groovy: bool,
    scope: Vec<String>,
    variables: Vec<&'static str>,
}

impl Check {
    fn expr(&mut self, expr: &mut IdedExpr) -> Result<(), String> {
        match &mut expr.expr {
            Expr::Literal(_) => Ok(()),
            Expr::Ident(name) => self.ident(name),
            Expr::Select(select) => self.expr(&mut select.operand),
            Expr::Call(call) => {
                self.function(call)?;
                if self.groovy
                    && let Some((_, function)) = functions::GROOVY_ORDER
                        .iter()
                        .find(|(operator, _)| *operator == call.func_name)
                {
                    call.func_name = (*function).to_owned();
                }
                if let Some(target) = &mut call.target {
                    self.expr(target)?;
                }
                call.args.iter_mut().try_for_each(|a| self.expr(a))
            }
            Expr::List(list) => list.elements.iter_mut().try_for_each(|e| self.expr(e)),
            Expr::Map(map) => map
                .entries
                .iter_mut()
                .try_for_each(|entry| match &mut entry.expr {
                    EntryExpr::MapEntry(e) if !e.optional => {
                        self.expr(&mut e.key)?;
                        self.expr(&mut e.value)
                    }
                    _ => Err("optional map entries are not supported".into()),
                }),
            Expr::Comprehension(c) => {
                self.expr(&mut c.iter_range)?;
                self.expr(&mut c.accu_init)?;
                // The interpreter aborts when the range is neither a list nor a map: route it
                // through a function that reports an error instead.
                let range = std::mem::take(c.iter_range.as_mut());
                *c.iter_range = IdedExpr {
                    id: range.id,
                    expr: Expr::Call(CallExpr {
                        func_name: functions::ITERABLE.into(),
                        target: None,
                        args: vec![range],
                    }),
                };
                let bound = self.scope.len();
                self.scope.push(c.iter_var.clone());
                self.scope.extend(c.iter_var2.clone());
                self.scope.push(c.accu_var.clone());
                let result = [&mut c.loop_cond, &mut c.loop_step, &mut c.result]
                    .into_iter()
                    .try_for_each(|e| self.expr(e));
                self.scope.truncate(bound);
                result
            }
            Expr::Struct(s) => Err(format!(
                "message construction ({}{{...}}) is not supported",
                s.type_name
            )),
            Expr::Unspecified => Err("it has an incomplete expression".into()),
        }
    }

    fn ident(&mut self, name: &str) -> Result<(), String> {
        if self.scope.iter().any(|s| s == name) {
            return Ok(());
        }
        match VARIABLES.iter().find(|v| **v == name) {
            Some(v) => {
                if !self.variables.contains(v) {
                    self.variables.push(v);
                }
                Ok(())
            }
            None => Err(format!(
                "unknown variable '{name}' (the variables are {})",
                VARIABLES.join(", ")
            )),
        }
    }

    fn function(&self, call: &CallExpr) -> Result<(), String> {
        let name = call.func_name.as_str();
        if OPERATORS.contains(&name) || FUNCTIONS.contains(&name) {
            Ok(())
        } else if name.starts_with(['_', '@', '!', '-']) {
            Err(format!("operator {name:?} is not supported"))
        } else {
            Err(format!(
                "unknown function '{name}' (the functions are {}, and the macros has, all, \
                 exists, exists_one, map, filter)",
                FUNCTIONS.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn compile(source: &str, language: Language) -> Result<Condition, String> {
        Condition::compile(source, language)
    }

    fn string(s: &str) -> Cel {
        Cel::String(Arc::new(s.into()))
    }

    fn map(entries: Vec<(&str, Cel)>) -> Cel {
        let map: std::collections::HashMap<_, _> = entries
            .into_iter()
            .map(|(k, v)| (cel_interpreter::objects::Key::from(k), v))
            .collect();
        Cel::Map(cel_interpreter::objects::Map { map: Arc::new(map) })
    }

    /// A Debezium envelope value with `op` and `after.id`.
    fn envelope(op: &str, id: i64) -> Cel {
        map(vec![
            ("op", string(op)),
            ("before", Cel::Null),
            (
                "after",
                map(vec![("id", Cel::Int(id)), ("name", string("Alice"))]),
            ),
        ])
    }

    fn eval(source: &str, language: Language, value: Cel) -> Result<bool, String> {
        compile(source, language)?.evaluate(vec![
            ("value", value),
            ("topic", string("dbz.public.customers")),
        ])
    }

    #[test]
    fn evaluates_common_debezium_conditions() {
        let cond = "value.op == 'u' && value.after.id > 5";
        assert_eq!(eval(cond, Language::Groovy, envelope("u", 6)), Ok(true));
        assert_eq!(eval(cond, Language::Groovy, envelope("u", 5)), Ok(false));
        assert_eq!(eval(cond, Language::Groovy, envelope("c", 6)), Ok(false));
        let js = "value.get('op') == 'u' && value.get('after').get('id') == 2";
        assert_eq!(eval(js, Language::JavaScript, envelope("u", 2)), Ok(true));
        assert_eq!(eval(js, Language::JavaScript, envelope("u", 3)), Ok(false));
        let topic = "topic.startsWith('dbz.') && value.op in ['c', 'r']";
        assert_eq!(eval(topic, Language::Cel, envelope("r", 1)), Ok(true));
    }

    #[test]
    fn runtime_problems_are_errors() {
        // `before` is null: reading a field of it fails, as it does in Groovy.
        let err = eval("value.before.id == 2", Language::Groovy, envelope("d", 2)).unwrap_err();
        assert!(err.contains("id"), "{err}");
        let err = eval("value.after.name", Language::Cel, envelope("c", 1)).unwrap_err();
        assert!(err.contains("not a boolean"), "{err}");
        let huge = format!("'{}'", "x".repeat(1000));
        let err = eval(&huge, Language::Cel, envelope("c", 1)).unwrap_err();
        assert!(err.len() < 400 && err.ends_with("..."), "{err}");
        let err = eval("value.get('nope') == 1", Language::Cel, envelope("c", 1)).unwrap_err();
        assert!(err.contains("nope"), "{err}");
        // A comprehension over null reports an error instead of aborting the interpreter.
        let err = eval(
            "value.before.exists(x, x == 1)",
            Language::Cel,
            envelope("c", 1),
        );
        assert!(err.is_err());
        assert_eq!(
            eval(
                "value.after.exists(k, k == 'id')",
                Language::Cel,
                envelope("c", 1)
            ),
            Ok(true)
        );
    }

    #[test]
    fn java_matches_needs_the_whole_string() {
        let cond = "value.after.name.matches('lic')";
        assert_eq!(eval(cond, Language::Cel, envelope("c", 1)), Ok(true));
        assert_eq!(eval(cond, Language::Groovy, envelope("c", 1)), Ok(false));
        let cond = "value.after.name.matches('A.*')";
        assert_eq!(eval(cond, Language::Groovy, envelope("c", 1)), Ok(true));
    }

    #[test]
    fn groovy_orders_null_first() {
        let cond = "value.before.id > 1";
        assert!(eval(cond, Language::Groovy, envelope("c", 1)).is_err());
        let cond = "value.before > 1";
        assert_eq!(eval(cond, Language::Groovy, envelope("c", 1)), Ok(false));
        assert!(eval(cond, Language::Cel, envelope("c", 1)).is_err());
        let cond = "value.before < 1 && null <= value.before && value.after.id >= 1.0";
        assert_eq!(eval(cond, Language::Groovy, envelope("c", 1)), Ok(true));
        let err = eval("value.after.name < 1", Language::Groovy, envelope("c", 1)).unwrap_err();
        assert!(err.contains("compared"), "{err}");
    }

    #[test]
    fn reports_only_the_variables_used() {
        let c = compile("key.id == 1 && [1].all(x, x > 0)", Language::Cel).unwrap();
        assert!(c.uses("key"));
        assert!(!c.uses("value") && !c.uses("header") && !c.uses("topic"));
        // A comprehension variable may shadow a record variable.
        let c = compile("[1].exists(value, value == 1)", Language::Cel).unwrap();
        assert!(!c.uses("value"));
    }

    #[test]
    fn non_cel_conditions_fail_to_compile_with_a_clear_error() {
        for (source, language, needle) in [
            ("value?.op == 'u'", Language::Groovy, "CEL-compatible"),
            ("value.op === 'u'", Language::JavaScript, "CEL-compatible"),
            (
                "operation != 'd'",
                Language::Groovy,
                "unknown variable 'operation'",
            ),
            (
                "value.op.equals('u')",
                Language::Groovy,
                "unknown function 'equals'",
            ),
            ("\"${value.op}\" == 'u'", Language::Groovy, "interpolation"),
            ("value.op == 'd", Language::Cel, "not a valid condition"),
            ("Msg{a: 1}.a == 1", Language::Cel, "found \"{\""),
            ("{?'a': 1}.a == 1", Language::Cel, "found \"?\""),
        ] {
            let err = compile(source, language).err().unwrap_or_default();
            assert!(err.contains(needle), "{source}: {err}");
            let quoted = format!("{source:?}");
            assert!(err.contains(&quoted), "{source}: the error names it: {err}");
        }
        // Inside single quotes `$` is plain text in Groovy too.
        assert!(compile("value.op != '$'", Language::Groovy).is_ok());
    }

    /// Compiles `source` and, if it compiles, evaluates it: neither may panic. And what the
    /// syntax check accepts, CEL's parser must parse without syntax errors (it may still
    /// reject a literal or a macro's arguments).
    fn never_panics(source: &str) {
        if syntax::check(source).is_ok()
            && let Err(e) = Parser::new().parse(source)
        {
            let e = e.to_string();
            let semantic = ["invalid int literal", "invalid argument to has() macro"];
            assert!(semantic.iter().any(|s| e.contains(s)), "{source:?}: {e}");
        }
        let outcome = std::panic::catch_unwind(|| {
            compile(source, Language::Groovy).map(|c| {
                c.evaluate(vec![
                    ("value", envelope("u", 1)),
                    ("key", Cel::Null),
                    ("valueSchema", Cel::Null),
                    ("keySchema", map(vec![])),
                    ("topic", string("t")),
                    (
                        "header",
                        map(vec![("h", map(vec![("value", string("1"))]))]),
                    ),
                ])
            })
        });
        assert!(outcome.is_ok(), "{source:?} panicked");
    }

    #[test]
    fn malformed_conditions_never_panic() {
        let pieces = [
            "value", ".", "op", "==", "'u'", "(", ")", "[", "]", "{", "}", ":", ",", "1", "1u",
            "2.5", "!", "-", "&&", "||", "?", "in", "has(", "exists(", "x", "b'", "\"", "null",
            "true", ".?", "r'", "0x", "1e", "\\",
        ];
        // Every ordered triple of pieces.
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    never_panics(&format!("{a}{b} {c}"));
                }
            }
        }
        // And pseudo-random longer sequences of condition fragments.
        let fragments = [
            "value.after",
            ".tags",
            ".exists(t, t",
            ".all(k, ",
            ".map(x, x)",
            ".filter(",
            "key",
            "header.h.value",
            "topic",
            "valueSchema.name",
            ".get('id')",
            ".get(0)",
            "[0]",
            "['a']",
            "size(",
            "int(",
            "matches(",
            "'a'",
            "\"b\"",
            "b'\\x01'",
            "-1",
            "!",
            "?",
            ":",
            ")",
            "(",
            "[",
            "]",
            "{",
            "}",
            ",",
            "==",
            "!=",
            "<",
            "+",
            "/",
            "%",
            "&&",
            "||",
            " in ",
            "has(",
            "null",
            "true",
            "1.5",
            "0",
            "9223372036854775807",
            "uint(1)",
            "'\\u00e9'",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..40_000 {
            let mut source = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = 2 + (state % 6) as usize;
            for i in 0..len {
                let pick = (state >> (i * 8)) as usize % fragments.len();
                source.push_str(fragments[pick]);
            }
            never_panics(&source);
        }
    }
}
