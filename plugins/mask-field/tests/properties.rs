//! MaskField properties over generated rows: masked fields become their type's empty value (or
//! the replacement), nulls stay null as in Connect, other fields keep theirs, and masking
//! twice changes nothing more.

use mask_field::MaskField;
use proptest::prelude::*;
use tidemark_sdk::{Config, Schema, SchemaType, Transform, Value};

/// A row of (int32 id, string email, boolean active, int64 visits, float64 score), every
/// column optional, with any values.
fn schema() -> Schema {
    Schema::new(SchemaType::Struct)
        .field("id", Schema::new(SchemaType::Int32).optional())
        .field("email", Schema::optional_string())
        .field("active", Schema::new(SchemaType::Boolean).optional())
        .field("visits", Schema::new(SchemaType::Int64).optional())
        .field("score", Schema::new(SchemaType::Float64).optional())
}

fn row() -> impl Strategy<Value = Vec<Value>> {
    (
        proptest::option::of(any::<i32>()),
        proptest::option::of(".{0,12}"),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<i64>()),
        proptest::option::of(-1e12f64..1e12),
    )
        .prop_map(|(id, email, active, visits, score)| {
            vec![
                id.map_or(Value::Null, Value::Int32),
                email.map_or(Value::Null, Value::String),
                active.map_or(Value::Null, Value::Boolean),
                visits.map_or(Value::Null, Value::Int64),
                score.map_or(Value::Null, Value::Float64),
            ]
        })
}

/// Any non-empty subset of the column names.
fn fields() -> impl Strategy<Value = Vec<&'static str>> {
    proptest::sample::subsequence(vec!["id", "email", "active", "visits", "score"], 1..=5)
}

fn masker(fields: &[&str], replacement: Option<&str>) -> MaskField {
    let mut settings = vec![("fields".to_owned(), fields.join(","))];
    if let Some(r) = replacement {
        settings.push(("replacement".to_owned(), r.to_owned()));
    }
    MaskField::configure(Config::new(settings)).expect("valid settings")
}

/// The empty value Connect masks a column of this type to.
fn empty(kind: SchemaType) -> Value {
    match kind {
        SchemaType::Int32 => Value::Int32(0),
        SchemaType::Int64 => Value::Int64(0),
        SchemaType::Float64 => Value::Float64(0.0),
        SchemaType::Boolean => Value::Boolean(false),
        SchemaType::String => Value::String(String::new()),
        other => panic!("no column of type {other:?} here"),
    }
}

proptest! {
    #[test]
    fn masked_columns_are_emptied_and_the_others_kept(row in row(), fields in fields()) {
        let schema = schema();
        let masked = masker(&fields, None).mask_struct(&schema, &row).unwrap();
        prop_assert_eq!(masked.len(), row.len());
        for (((name, column), before), after) in schema.fields.iter().zip(&row).zip(&masked) {
            if before.is_null() {
                // Connect's masked(null) is null.
                prop_assert_eq!(after, &Value::Null, "{}", name);
            } else if fields.contains(&name.as_str()) {
                prop_assert_eq!(after, &empty(column.kind), "{}", name);
            } else {
                prop_assert_eq!(after, before, "{}", name);
            }
        }
    }

    #[test]
    fn masking_twice_is_masking_once(row in row(), fields in fields()) {
        let schema = schema();
        let m = masker(&fields, None);
        let once = m.mask_struct(&schema, &row).unwrap();
        prop_assert_eq!(m.mask_struct(&schema, &once).unwrap(), once);
    }

    #[test]
    fn a_replacement_fills_masked_strings(row in row(), replacement in "[a-z*]{1,8}") {
        let schema = schema();
        let masked = masker(&["email"], Some(&replacement)).mask_struct(&schema, &row).unwrap();
        let expected = if row[1].is_null() { Value::Null } else { Value::String(replacement) };
        prop_assert_eq!(&masked[1], &expected);
        prop_assert_eq!(&masked[0], &row[0]);
    }
}
