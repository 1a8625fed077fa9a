//! The fast path for the commonest conditions: fields of `value` or `key` compared with
//! literals, joined by `&&`, `||` and `!` (`value.op != 'd' && value.after.id > 5`).
//!
//! Such a condition is evaluated straight on the fields' values, without building CEL maps
//! or running the interpreter. The fast path answers only where CEL's answer is plain (an
//! integer, string, double or boolean compared with a literal of the same type); for anything
//! else (a null, a `Decimal`, mixed types, a missing field) it gives up and the interpreter
//! evaluates the record, so results are always exactly CEL's (and Groovy's ordering of
//! nulls, which only the interpreter applies).

use cel_parser::ast::{Expr, IdedExpr, operators};
use cel_parser::reference::Val;
use tidemark_sdk::{Part, Schema, SchemaType, Value};

use crate::functions::GROOVY_ORDER;

/// A scalar as CEL sees it, for the types the fast path compares.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Int(i64),
    Double(f64),
    Str(String),
    Bool(bool),
}

/// A field's value as a [`Scalar`], `None` when the fast path leaves it to the interpreter
/// (null, bytes and `Decimal`s, structs, arrays and maps).
pub fn scalar(value: Value, schema: &Schema) -> Option<Scalar> {
    if schema.kind == SchemaType::Bytes {
        return None;
    }
    Some(match value {
        Value::Boolean(b) => Scalar::Bool(b),
        Value::Int8(n) => Scalar::Int(n.into()),
        Value::Int16(n) => Scalar::Int(n.into()),
        Value::Int32(n) => Scalar::Int(n.into()),
        Value::Int64(n) => Scalar::Int(n),
        Value::Float32(f) => Scalar::Double(f.into()),
        Value::Float64(f) => Scalar::Double(f),
        Value::String(s) => Scalar::Str(s),
        _ => return None,
    })
}

/// A condition in the fast path's shape.
#[derive(Debug, PartialEq)]
pub enum Fast {
    And(Box<Fast>, Box<Fast>),
    Or(Box<Fast>, Box<Fast>),
    Not(Box<Fast>),
    Compare(Comparison, Operand, Operand),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Comparison {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One side of a comparison.
#[derive(Debug, PartialEq)]
pub enum Operand {
    /// The field at this index of the part's field paths.
    Field(Part, usize),
    Literal(Scalar),
}

impl Fast {
    /// The fast form of a checked condition, `None` when it has another shape. `paths` gives
    /// the field paths of `value` and `key` the condition reads (see
    /// [`Condition::paths`](crate::condition::Condition::paths)).
    pub fn compile<'p>(
        expr: &IdedExpr,
        paths: &dyn Fn(Part) -> Option<&'p [Vec<String>]>,
    ) -> Option<Fast> {
        let Expr::Call(call) = &expr.expr else {
            return None;
        };
        if call.target.is_some() {
            return None;
        }
        let name = call.func_name.as_str();
        let arg = |i: usize| Fast::compile(call.args.get(i)?, paths).map(Box::new);
        match (name, call.args.len()) {
            (operators::LOGICAL_AND, 2) => Some(Fast::And(arg(0)?, arg(1)?)),
            (operators::LOGICAL_OR, 2) => Some(Fast::Or(arg(0)?, arg(1)?)),
            (operators::LOGICAL_NOT, 1) => Some(Fast::Not(arg(0)?)),
            (_, 2) => {
                let comparison = comparison(name)?;
                let left = operand(&call.args[0], paths)?;
                let right = operand(&call.args[1], paths)?;
                Some(Fast::Compare(comparison, left, right))
            }
            _ => None,
        }
    }

    /// The condition's value for these field values (each part's fields in the order of its
    /// paths; `None` for a field the fast path does not compare), `None` when the interpreter
    /// must decide.
    pub fn evaluate<'a>(
        &'a self,
        fields: &dyn Fn(Part, usize) -> Option<&'a Scalar>,
    ) -> Option<bool> {
        match self {
            // CEL's `&&` and `||` are commutative about errors (`error && false` is false);
            // giving up on either side leaves that to the interpreter.
            Fast::And(a, b) => match a.evaluate(fields)? {
                false => Some(false),
                true => b.evaluate(fields),
            },
            Fast::Or(a, b) => match a.evaluate(fields)? {
                true => Some(true),
                false => b.evaluate(fields),
            },
            Fast::Not(a) => a.evaluate(fields).map(|b| !b),
            Fast::Compare(comparison, left, right) => {
                let value = |operand: &'a Operand| match operand {
                    Operand::Field(part, i) => fields(*part, *i),
                    Operand::Literal(scalar) => Some(scalar),
                };
                compare(*comparison, value(left)?, value(right)?)
            }
        }
    }
}

/// The comparison an operator name stands for (Groovy's relational operators included: they
/// differ from CEL's only for nulls, which the fast path never compares).
fn comparison(name: &str) -> Option<Comparison> {
    let name = GROOVY_ORDER
        .iter()
        .find(|(_, groovy)| *groovy == name)
        .map_or(name, |(operator, _)| operator);
    Some(match name {
        operators::EQUALS => Comparison::Eq,
        operators::NOT_EQUALS => Comparison::Ne,
        operators::LESS => Comparison::Lt,
        operators::LESS_EQUALS => Comparison::Le,
        operators::GREATER => Comparison::Gt,
        operators::GREATER_EQUALS => Comparison::Ge,
        _ => return None,
    })
}

/// A literal, or a chain of field selections on `value` or `key` that is one of the part's
/// field paths.
fn operand<'p>(
    expr: &IdedExpr,
    paths: &dyn Fn(Part) -> Option<&'p [Vec<String>]>,
) -> Option<Operand> {
    if let Expr::Literal(literal) = &expr.expr {
        return Some(Operand::Literal(match literal {
            Val::Int(n) => Scalar::Int(*n),
            Val::Double(f) => Scalar::Double(*f),
            Val::String(s) => Scalar::Str(s.clone()),
            Val::Boolean(b) => Scalar::Bool(*b),
            _ => return None,
        }));
    }
    let mut segments = Vec::new();
    let mut at = expr;
    let part = loop {
        match &at.expr {
            Expr::Select(select) if !select.test => {
                segments.push(select.field.clone());
                at = &select.operand;
            }
            Expr::Ident(name) if name == "value" => break Part::Value,
            Expr::Ident(name) if name == "key" => break Part::Key,
            _ => return None,
        }
    };
    segments.reverse();
    let index = paths(part)?.iter().position(|p| *p == segments)?;
    Some(Operand::Field(part, index))
}

/// CEL's answer for two scalars of the same type; `None` for mixed types (CEL compares some
/// of them, e.g. an int with a double, by rules left to the interpreter) and for ordering
/// booleans.
fn compare(comparison: Comparison, left: &Scalar, right: &Scalar) -> Option<bool> {
    use std::cmp::Ordering;
    let ordering: Option<Ordering> = match (left, right) {
        (Scalar::Int(a), Scalar::Int(b)) => Some(a.cmp(b)),
        (Scalar::Str(a), Scalar::Str(b)) => Some(a.cmp(b)),
        (Scalar::Double(a), Scalar::Double(b)) => {
            // NaN: CEL's equality is IEEE's, its ordering leaves NaN to the interpreter.
            match comparison {
                Comparison::Eq => return Some(a == b),
                Comparison::Ne => return Some(a != b),
                _ => a.partial_cmp(b),
            }
        }
        (Scalar::Bool(a), Scalar::Bool(b)) => match comparison {
            Comparison::Eq => return Some(a == b),
            Comparison::Ne => return Some(a != b),
            _ => None,
        },
        _ => None,
    };
    let ordering = ordering?;
    Some(match comparison {
        Comparison::Eq => ordering.is_eq(),
        Comparison::Ne => ordering.is_ne(),
        Comparison::Lt => ordering.is_lt(),
        Comparison::Le => ordering.is_le(),
        Comparison::Gt => ordering.is_gt(),
        Comparison::Ge => ordering.is_ge(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::{Condition, Language};
    use cel_interpreter::Value as Cel;
    use std::collections::HashMap;
    use std::sync::Arc;

    /// True when the condition takes the fast path.
    fn fast(source: &str, language: Language) -> bool {
        Condition::compile(source, language)
            .unwrap()
            .fast()
            .is_some()
    }

    fn cel(scalar: &Option<Scalar>) -> Cel {
        match scalar {
            None => Cel::Null,
            Some(Scalar::Int(n)) => Cel::Int(*n),
            Some(Scalar::Double(f)) => Cel::Float(*f),
            Some(Scalar::Str(s)) => Cel::String(Arc::new(s.clone())),
            Some(Scalar::Bool(b)) => Cel::Bool(*b),
        }
    }

    /// Evaluates `source` over a value whose top-level fields `a` and `b` hold these
    /// scalars, both ways: the fast path, when it answers, must agree with the interpreter.
    fn both(
        source: &str,
        language: Language,
        a: Option<Scalar>,
        b: Option<Scalar>,
    ) -> Option<bool> {
        let condition = Condition::compile(source, language).unwrap();
        let fast = condition.fast().expect("a fast condition");
        let paths = condition.paths(Part::Value).unwrap().to_vec();
        let field = |name: &str| -> &Option<Scalar> { if name == "a" { &a } else { &b } };
        let answer = fast.evaluate(&|_, i| field(&paths[i][0]).as_ref());
        let map: HashMap<cel_interpreter::objects::Key, Cel> = [("a", &a), ("b", &b)]
            .into_iter()
            .map(|(k, v)| {
                (
                    cel_interpreter::objects::Key::String(Arc::new(k.into())),
                    cel(v),
                )
            })
            .collect();
        let value = Cel::Map(cel_interpreter::objects::Map { map: Arc::new(map) });
        let interpreted = condition.evaluate(vec![("value", value)]);
        if let Some(answer) = answer {
            assert_eq!(Ok(answer), interpreted, "{source} with a={a:?} b={b:?}");
        }
        answer
    }

    #[test]
    fn comparisons_joined_by_logic_take_the_fast_path() {
        for source in [
            "value.a >= 0 && value.b != 'd'",
            "!(value.a == 1) || value.b < 'x'",
            "value.after.id > 5",
            "key.id == 3 && value.op == 'u'",
        ] {
            assert!(fast(source, Language::Cel), "{source}");
        }
        assert!(fast("value.a >= 0", Language::Groovy));
    }

    #[test]
    fn other_shapes_are_left_to_the_interpreter() {
        for source in [
            "value.a + 1 > 2",
            "size(value.b) > 2",
            "value.b.startsWith('x')",
            "value.a in [1, 2]",
            "topic == 'x'",
            "has(value.a)",
            "value.a == null",
            "value.a == 1u",
            "value.after.id > 1 && value.after == null",
            "true",
        ] {
            assert!(!fast(source, Language::Cel), "{source}");
        }
    }

    #[test]
    fn the_fast_path_agrees_with_the_interpreter() {
        let int = |n| Some(Scalar::Int(n));
        let string = |s: &str| Some(Scalar::Str(s.into()));
        let double = |f| Some(Scalar::Double(f));
        let sources = [
            "value.a >= 0 && value.b != 'd'",
            "value.a < 3 || value.b == 'x'",
            "!(value.a > 2) && value.b <= 'm'",
            "value.a == 2.5 || value.a != 1",
            "value.b == true",
        ];
        let values = [
            (int(0), string("d")),
            (int(-1), string("c")),
            (int(7), string("x")),
            (double(2.5), string("a")),
            (double(f64::NAN), string("z")),
            (string("s"), int(1)),
            (None, string("d")),
            (int(1), None),
            (Some(Scalar::Bool(true)), Some(Scalar::Bool(true))),
        ];
        let mut answered = 0;
        for language in [Language::Cel, Language::Groovy] {
            for source in sources {
                for (a, b) in &values {
                    answered += both(source, language, a.clone(), b.clone()).is_some() as usize;
                }
            }
        }
        assert!(
            answered > 20,
            "the fast path answered only {answered} times"
        );
    }

    #[test]
    fn it_gives_up_where_cel_does_not_compare_plainly() {
        let source = "value.a > 1";
        assert_eq!(
            both(source, Language::Cel, Some(Scalar::Double(2.0)), None),
            None
        );
        assert_eq!(both(source, Language::Groovy, None, None), None);
        assert_eq!(
            both("value.a == true", Language::Cel, Some(Scalar::Int(1)), None),
            None
        );
        assert_eq!(
            both(
                "value.a > 1 && value.b == 'x'",
                Language::Cel,
                Some(Scalar::Int(0)),
                None
            ),
            Some(false)
        );
    }

    #[test]
    fn scalars_follow_cels_view_of_connect_types() {
        let string = Schema::new(SchemaType::String);
        assert_eq!(scalar("x".into(), &string), Some(Scalar::Str("x".into())));
        let int = Schema::new(SchemaType::Int16);
        assert_eq!(scalar(Value::Int16(-3), &int), Some(Scalar::Int(-3)));
        let bytes = Schema::new(SchemaType::Bytes);
        assert_eq!(scalar(Value::Bytes(vec![1]), &bytes), None);
        assert_eq!(scalar(Value::Null, &string), None);
    }
}
