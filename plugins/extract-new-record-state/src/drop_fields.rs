//! `drop.fields.header.name`: removing the fields a header lists (as `ReplaceField` with
//! `exclude` does), from the value and optionally the key.

use tidemark_sdk::{Data, Header, Schema, Value};

use crate::java;

/// The field names listed by the first header called `name`; empty when there is no such
/// header, it is null or it lists nothing. The header holds a list as Connect prints one,
/// `["a","b"]` (quotes optional).
pub fn listed(headers: &[Header], name: &str) -> Vec<String> {
    let Some(text) = headers
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value.as_deref())
    else {
        return Vec::new();
    };
    let inner = text.trim();
    let inner = inner
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(inner);
    inner
        .split(',')
        .map(|item| {
            let item = item.trim();
            item.strip_prefix('"')
                .and_then(|i| i.strip_suffix('"'))
                .unwrap_or(item)
                .to_owned()
        })
        .filter(|item| !item.is_empty())
        .collect()
}

/// The listed fields to drop from data of this schema: all of them, or only the optional
/// ones when schemas must stay compatible.
pub fn to_drop(
    schema: Option<&Schema>,
    names: &[String],
    keep_schema_compatible: bool,
) -> Result<Vec<String>, String> {
    if !keep_schema_compatible {
        return Ok(names.to_vec());
    }
    let schema =
        schema.ok_or("cannot drop fields from schemaless data while keeping schemas compatible")?;
    Ok(schema
        .fields
        .iter()
        .filter(|(name, field)| field.optional && names.contains(name))
        .map(|(name, _)| name.clone())
        .collect())
}

/// Removes the named fields. A struct keeps its name, version, doc and parameters but
/// becomes required; retained null fields take their defaults (as `ReplaceField` copies
/// them). A null value is unchanged.
pub fn exclude(data: Data, names: &[String]) -> Result<Data, String> {
    if names.is_empty() || data.value.is_null() {
        return Ok(data);
    }
    match (data.schema, data.value) {
        (None, Value::Map(entries)) => Ok(Data {
            schema: None,
            value: Value::Map(
                entries
                    .into_iter()
                    .filter(|(k, _)| !k.as_str().is_some_and(|k| names.iter().any(|n| n == k)))
                    .collect(),
            ),
        }),
        (Some(schema), Value::Struct(values)) => {
            let mut kept = java::copy_struct(&schema);
            kept.fields.clear();
            let mut kept_values = Vec::new();
            for ((name, field), value) in schema.fields.iter().zip(values) {
                if !names.contains(name) {
                    kept_values.push(java::with_default(&value, field));
                    kept.fields.push((name.clone(), field.clone()));
                }
            }
            Ok(Data {
                schema: Some(kept),
                value: Value::Struct(kept_values),
            })
        }
        _ => Err("fields can only be dropped from a struct or a map".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidemark_sdk::SchemaType;

    fn header(value: &str) -> Vec<Header> {
        vec![Header {
            key: "drop".into(),
            value: Some(value.into()),
        }]
    }

    #[test]
    fn lists_are_read_from_the_first_header() {
        assert_eq!(listed(&header(r#"["a","b"]"#), "drop"), ["a", "b"]);
        assert_eq!(listed(&header("[a, b]"), "drop"), ["a", "b"]);
        assert!(listed(&header("[]"), "drop").is_empty());
        assert!(listed(&header("a"), "other").is_empty());
    }

    #[test]
    fn only_optional_fields_when_compatible() {
        let schema = Schema::new(SchemaType::Struct)
            .field("id", Schema::new(SchemaType::Int32))
            .field("a", Schema::optional_string());
        let names = vec!["id".to_owned(), "a".to_owned()];
        assert_eq!(to_drop(Some(&schema), &names, true).unwrap(), ["a"]);
        assert_eq!(to_drop(Some(&schema), &names, false).unwrap(), names);
        assert!(to_drop(None, &names, true).is_err());
    }

    #[test]
    fn excluding_rebuilds_schema_and_value() {
        let mut b = Schema::optional_string();
        b.default = Some(Value::from("dflt"));
        let schema = Schema::new(SchemaType::Struct)
            .optional()
            .named("row")
            .field("a", Schema::optional_string())
            .field("b", b);
        let data = Data {
            schema: Some(schema),
            value: Value::Struct(vec![Value::from("x"), Value::Null]),
        };
        let out = exclude(data, &["a".to_owned()]).unwrap();
        let schema = out.schema.unwrap();
        assert!(!schema.optional);
        assert_eq!(schema.name.as_deref(), Some("row"));
        assert_eq!(schema.fields.len(), 1);
        assert_eq!(out.value, Value::Struct(vec![Value::from("dflt")]));
    }
}
