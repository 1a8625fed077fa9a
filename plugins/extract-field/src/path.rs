//! Connect's `SingleFieldPath` (KIP-821): a field name (`V1`) or a dotted path to a nested
//! field (`V2`, with backticks around names that contain dots).

use connect_common::structs::{map_get, require_map, require_struct};
use tidemark_sdk::{Schema, SchemaType, Value};

/// `field.syntax.version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// The whole setting is one top-level field name.
    V1,
    /// Dotted paths; a name with dots is wrapped in backticks (`` `a.b`.c ``), a backtick
    /// inside a wrapped name that is followed by a dot is escaped with a backslash.
    V2,
}

/// A path of field names, outermost first; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    steps: Vec<String>,
}

impl FieldPath {
    /// Parses `text` in the given syntax.
    pub fn parse(text: &str, syntax: Syntax) -> Result<FieldPath, String> {
        let steps = match syntax {
            Syntax::V1 => vec![text.to_owned()],
            Syntax::V2 => parse_v2(text)?,
        };
        if steps.is_empty() {
            return Err("the field path is empty".into());
        }
        Ok(FieldPath { steps })
    }

    /// The path's steps.
    pub fn steps(&self) -> &[String] {
        &self.steps
    }

    fn split(&self) -> (&[String], &str) {
        match self.steps.split_last() {
            Some((last, inner)) => (inner, last),
            None => (&[], ""),
        }
    }

    /// The schema of the field at the path; `Ok(None)` when a step names no field. Looking
    /// into a schema that is not a struct is an error, as in Connect.
    pub fn schema_from<'a>(&self, schema: &'a Schema) -> Result<Option<&'a Schema>, String> {
        let mut current = schema;
        for step in &self.steps {
            if current.kind != SchemaType::Struct {
                return Err("Cannot look up fields on non-struct type".into());
            }
            match current.field_schema(step) {
                Some(field) => current = field,
                None => return Ok(None),
            }
        }
        Ok(Some(current))
    }

    /// The value at the path in a struct (`values` in the order of `schema`'s fields); null
    /// when a step names no field or passes a null struct. Structs on the way are read with
    /// their fields' defaults; the last field with its default only if `with_default`.
    pub fn value_from_struct(
        &self,
        schema: &Schema,
        values: &[Value],
        with_default: bool,
    ) -> Result<Value, String> {
        let (inner, last) = self.split();
        let mut schema = schema;
        let mut values = values;
        for step in inner {
            let Some(i) = schema.field_index(step) else {
                return Ok(Value::Null);
            };
            let field_schema = &schema.fields[i].1;
            let sub = field_ref(values.get(i), field_schema, true);
            if sub.is_null() {
                return Ok(Value::Null);
            }
            values = require_struct(sub, "nested field access")?;
            schema = field_schema;
        }
        Ok(match schema.field_index(last) {
            Some(i) => field_ref(values.get(i), &schema.fields[i].1, with_default).clone(),
            None => Value::Null,
        })
    }

    /// The value at the path in a schemaless map; null when absent or when a step passes a
    /// null. Looking into anything but a map is an error.
    pub fn value_from_map(&self, entries: &[(Value, Value)]) -> Result<Value, String> {
        let (inner, last) = self.split();
        let mut current = entries;
        for step in inner {
            match map_get(current, step) {
                None | Some(Value::Null) => return Ok(Value::Null),
                Some(sub) => current = require_map(sub, "nested field access")?,
            }
        }
        Ok(map_get(current, last).cloned().unwrap_or(Value::Null))
    }
}

/// A struct field's value (a missing one is null), or with `with_default` its schema's
/// default when null, as Connect's `Struct.get` does.
fn field_ref<'a>(value: Option<&'a Value>, schema: &'a Schema, with_default: bool) -> &'a Value {
    static NULL: Value = Value::Null;
    match (value, &schema.default) {
        (None | Some(Value::Null), Some(default)) if with_default => default,
        (Some(value), _) => value,
        (None, _) => &NULL,
    }
}

/// Splits a `V2` path as Connect does.
fn parse_v2(path: &str) -> Result<Vec<String>, String> {
    let bytes = path.as_bytes();
    let find = |from: usize, c: u8| bytes[from..].iter().position(|&b| b == c).map(|p| p + from);
    let incomplete = |at: usize| {
        format!(
            "Incomplete backtick pair in path: [{path}], consider adding a backslash before \
             backtick at position {at} to escape it"
        )
    };
    let mut steps = Vec::new();
    let mut idx = 0;
    while idx < bytes.len() {
        if bytes[idx] != b'`' {
            match find(idx, b'.') {
                Some(dot) => {
                    steps.push(path[idx..dot].to_owned());
                    idx = dot + 1;
                }
                None => {
                    steps.push(path[idx..].to_owned());
                    break;
                }
            }
            continue;
        }
        let backtick_at = idx;
        idx += 1;
        let mut start = idx;
        let mut field = String::new();
        loop {
            idx = find(idx, b'`').ok_or_else(|| incomplete(backtick_at))?;
            let escaped = bytes[idx - 1] == b'\\';
            if idx + 1 >= bytes.len() {
                if escaped {
                    return Err(incomplete(backtick_at));
                }
                field.push_str(&path[start..idx]);
                steps.push(field);
                idx += 1;
                break;
            }
            if bytes[idx + 1] != b'.' {
                idx += 1;
                continue;
            }
            if escaped {
                field.push_str(&path[start..idx - 1]);
                field.push('`');
                idx += 1;
                start = idx;
                continue;
            }
            field.push_str(&path[start..idx]);
            steps.push(field);
            idx += 2;
            break;
        }
    }
    if path.ends_with('.') {
        steps.push(String::new());
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(text: &str) -> Vec<String> {
        FieldPath::parse(text, Syntax::V2).unwrap().steps().to_vec()
    }

    #[test]
    fn v2_paths_split_like_connect() {
        assert_eq!(v2("a.b.c"), ["a", "b", "c"]);
        assert_eq!(v2("`a.b`.c"), ["a.b", "c"]);
        assert_eq!(v2("a.`b.c`"), ["a", "b.c"]);
        assert_eq!(v2("a."), ["a", ""]);
        assert_eq!(v2("`a`b`.c"), ["a`b", "c"]);
        assert_eq!(v2(r"`a\`.b`.c"), ["a`.b", "c"]);
        assert!(
            FieldPath::parse("`a.b", Syntax::V2)
                .unwrap_err()
                .contains("position 0")
        );
        assert!(FieldPath::parse("", Syntax::V2).is_err());
        assert_eq!(
            FieldPath::parse("a.b", Syntax::V1).unwrap().steps(),
            ["a.b"]
        );
    }

    fn nested() -> Schema {
        let mut with_default = Schema::optional_string();
        with_default.default = Some("d".into());
        let inner = Schema::new(SchemaType::Struct)
            .optional()
            .field("x", with_default)
            .field("y", Schema::new(SchemaType::Int32));
        Schema::new(SchemaType::Struct)
            .field("after", inner)
            .field("op", Schema::new(SchemaType::String))
    }

    #[test]
    fn nested_struct_values() {
        let path = FieldPath::parse("after.x", Syntax::V2).unwrap();
        let schema = nested();
        assert_eq!(
            path.schema_from(&schema).unwrap().map(|s| s.kind),
            Some(SchemaType::String)
        );
        let values = [
            Value::Struct(vec![Value::Null, Value::Int32(1)]),
            "c".into(),
        ];
        assert_eq!(
            path.value_from_struct(&schema, &values, true),
            Ok("d".into())
        );
        assert_eq!(
            path.value_from_struct(&schema, &values, false),
            Ok(Value::Null)
        );
        let null_after = [Value::Null, "d".into()];
        assert_eq!(
            path.value_from_struct(&schema, &null_after, true),
            Ok(Value::Null)
        );
        let missing = FieldPath::parse("after.z", Syntax::V2).unwrap();
        assert_eq!(missing.schema_from(&schema), Ok(None));
        let into_string = FieldPath::parse("op.z", Syntax::V2).unwrap();
        assert!(into_string.schema_from(&schema).is_err());
    }

    #[test]
    fn nested_map_values() {
        let path = FieldPath::parse("a.b", Syntax::V2).unwrap();
        let inner = Value::Map(vec![("b".into(), Value::Int64(2))]);
        assert_eq!(
            path.value_from_map(&[("a".into(), inner)]),
            Ok(Value::Int64(2))
        );
        assert_eq!(
            path.value_from_map(&[("a".into(), Value::Null)]),
            Ok(Value::Null)
        );
        assert_eq!(path.value_from_map(&[]), Ok(Value::Null));
        assert!(
            path.value_from_map(&[("a".into(), Value::Int64(1))])
                .is_err()
        );
    }
}
