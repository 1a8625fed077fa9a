//! CEL functions added for conditions written for Debezium's Groovy and JavaScript engines.

use std::cmp::Ordering;
use std::sync::Arc;

use cel_interpreter::extractors::This;
use cel_interpreter::objects::Key;
use cel_interpreter::{ExecutionError, FunctionContext, Value};
use cel_parser::ast::operators;

/// The function that guards every comprehension's range (see `condition`): its name cannot be
/// written in an expression.
pub const ITERABLE: &str = "@iterable";

/// `x.get(k)`, Java's `Struct.get(name)` / `Map.get(key)` / `List.get(index)`: the member or
/// element, or an error when there is none.
pub fn get(
    ftx: &FunctionContext,
    This(this): This<Value>,
    key: Value,
) -> Result<Value, ExecutionError> {
    match (&this, &key) {
        (Value::Map(map), _) => {
            let k: Key = key
                .clone()
                .try_into()
                .map_err(|k| ftx.error(format!("{k:?} cannot be a key")))?;
            map.get(&k)
                .cloned()
                .ok_or_else(|| ftx.error(format!("no field or key {k}")))
        }
        (Value::List(items), Value::Int(i)) => usize::try_from(*i)
            .ok()
            .and_then(|i| items.get(i))
            .cloned()
            .ok_or_else(|| ftx.error(format!("index {i} is out of range"))),
        (Value::Null, _) => Err(ftx.error(format!("get({key:?}) on null"))),
        _ => Err(ftx.error(format!("get({key:?}) is not supported on {this:?}"))),
    }
}

/// `s.matches(re)` with Java's `String.matches` meaning: the regex must match all of `s`
/// (CEL's own `matches` finds a match anywhere).
pub fn matches_whole(
    ftx: &FunctionContext,
    This(this): This<Arc<String>>,
    regex: Arc<String>,
) -> Result<bool, ExecutionError> {
    regex::Regex::new(&format!("^(?:{regex})$"))
        .map(|re| re.is_match(&this))
        .map_err(|e| ftx.error(format!("{regex:?} is not a valid regular expression: {e}")))
}

/// The relational operators Groovy orders differently from CEL, and the functions that
/// replace them in Groovy conditions (names that cannot be written in an expression).
pub const GROOVY_ORDER: [(&str, &str); 4] = [
    (operators::LESS, "@groovy<"),
    (operators::LESS_EQUALS, "@groovy<="),
    (operators::GREATER, "@groovy>"),
    (operators::GREATER_EQUALS, "@groovy>="),
];

/// A relational operator with Groovy's ordering: null is less than every other value and
/// equal to null (`null > 1` is false where CEL reports an error); other values compare as in
/// CEL.
pub fn groovy_order(
    operator: &'static str,
) -> impl Fn(Value, Value) -> Result<bool, ExecutionError> + Send + Sync {
    move |left, right| {
        let ordering = match (&left, &right) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Null, _) => Ordering::Less,
            (_, Value::Null) => Ordering::Greater,
            _ => left
                .partial_cmp(&right)
                .ok_or_else(|| ExecutionError::ValuesNotComparable(left.clone(), right.clone()))?,
        };
        Ok(match operator {
            operators::LESS => ordering.is_lt(),
            operators::LESS_EQUALS => ordering.is_le(),
            operators::GREATER => ordering.is_gt(),
            _ => ordering.is_ge(),
        })
    }
}

/// The range of a comprehension (`all`, `exists`, `map`, `filter`...): a list or a map, or an
/// error (the interpreter would otherwise abort on anything else).
pub fn iterable(This(this): This<Value>) -> Result<Value, ExecutionError> {
    match this {
        Value::List(_) | Value::Map(_) => Ok(this),
        other => Err(ExecutionError::UnexpectedType {
            got: format!("{other:?}"),
            want: "a list or a map to iterate over".into(),
        }),
    }
}
