//! `mask-field`: Kafka Connect's `org.apache.kafka.connect.transforms.MaskField$Key` and
//! `$Value` (the host passes `part=key` or `part=value`; without it, the value).
//!
//! Settings: `fields` (names of top-level fields to mask), `replacement` (optional, non-empty:
//! read as the field's type; only numbers, decimals and strings take one), and
//! `replace.null.with.default` (default true: a null field with a default is read as its
//! default before masking, and unmasked null fields take their defaults, as `Struct.get`
//! does). Schemaless maps are masked too; a masked key missing from a map is added as null.
//!
//! Differences from Connect: a null key or value (a tombstone) passes unchanged, where Connect
//! fails the record. A `Decimal` masks to zero at the field's scale and a decimal replacement
//! is rescaled to the field's scale when no rounding is needed (Connect builds a scale-0 zero,
//! or the replacement's own scale, which its `JsonConverter` then refuses for other scales).
//! Where Connect fails a record (bytes or struct fields, a replacement of the wrong type), the
//! record fails: the host applies `errors.tolerance` (stop, or dead-letter queue).

mod mask;

use std::rc::Rc;

use connect_common::cache::IdCache;
use connect_common::operand::{self, Rewrite};
use connect_common::settings;
use connect_common::structs::{
    check_put, field_value, map_get, map_put, require_map, require_struct,
};
use tidemark_sdk::{
    Config, ConfigDef, Data, Importance, Key, KeyType, Outcome, Part, Record, Records, Schema,
    Transform, Value, export_transform,
};

pub use mask::mask;

const PURPOSE: &str = "mask fields";

/// The MaskField transform.
#[derive(Debug)]
pub struct MaskField {
    part: Part,
    /// Field names, each once, in the order given.
    fields: Vec<String>,
    replacement: Option<String>,
    replace_null_with_default: bool,
    plans: IdCache<Rc<Plan>>,
}

/// What masking needs from one schema of the part.
#[derive(Debug)]
struct Plan {
    schema: Schema,
    /// For a struct schema without dotted field names: the fields that can change (those to
    /// mask, and those with a default, which a null takes or must have); the others pass as
    /// they are, so only these are read. `None`: read the whole part.
    reads: Option<Vec<Read>>,
}

/// A field of the struct that masking may change.
#[derive(Debug)]
struct Read {
    /// The field's position in the struct.
    index: usize,
    /// For a masked field without a default whose type alone decides its mask (numbers,
    /// strings, booleans): the masked value of every non-null value, so that the field is
    /// only tested for null, not read.
    constant: Option<Value>,
}

impl Plan {
    fn new(schema: Schema, masked: &[String], replacement: Option<&str>) -> Plan {
        let by_field = schema.kind == tidemark_sdk::SchemaType::Struct
            && schema.fields.iter().all(|(name, _)| !name.contains('.'));
        let reads = by_field.then(|| {
            schema
                .fields
                .iter()
                .enumerate()
                .filter(|(_, (name, field))| masked.contains(name) || field.default.is_some())
                .map(|(index, (name, field))| Read {
                    index,
                    constant: constant_mask(name, field, masked, replacement),
                })
                .collect()
        });
        Plan { schema, reads }
    }
}

/// The mask of every non-null value of field `name` when it is masked, has no default, and
/// its type alone decides its mask; `None` otherwise (its value must be read).
fn constant_mask(
    name: &str,
    field: &Schema,
    masked: &[String],
    replacement: Option<&str>,
) -> Option<Value> {
    if !masked.iter().any(|m| m == name) || field.default.is_some() {
        return None;
    }
    let out = mask(&some_value(field)?, Some(field), replacement).ok()?;
    check_put(name, field, &out).ok().map(|()| out)
}

/// A non-null value of a number, string or boolean schema (which one does not matter to
/// `mask`, only its type), `None` for other types.
fn some_value(schema: &Schema) -> Option<Value> {
    use tidemark_sdk::SchemaType as T;
    Some(match schema.kind {
        T::Boolean => Value::Boolean(false),
        T::Int8 => Value::Int8(0),
        T::Int16 => Value::Int16(0),
        T::Int32 => Value::Int32(0),
        T::Int64 => Value::Int64(0),
        T::Float32 => Value::Float32(0.0),
        T::Float64 => Value::Float64(0.0),
        T::String => Value::String(String::new()),
        _ => return None,
    })
}

impl MaskField {
    /// The masked values of a struct whose schema is `schema`.
    pub fn mask_struct(&self, schema: &Schema, values: &[Value]) -> Result<Vec<Value>, String> {
        schema
            .fields
            .iter()
            .zip(values)
            .map(|((name, field_schema), value)| self.mask_field(name, field_schema, value))
            .collect()
    }

    /// The masked entries of a schemaless map.
    pub fn mask_map(&self, entries: &[(Value, Value)]) -> Result<Vec<(Value, Value)>, String> {
        let mut out = entries.to_vec();
        for field in &self.fields {
            let original = map_get(entries, field).unwrap_or(&Value::Null);
            map_put(
                &mut out,
                field,
                mask(original, None, self.replacement.as_deref())?,
            );
        }
        Ok(out)
    }

    /// The masked form of one field whose value (as read) is `value`.
    fn mask_field(&self, name: &str, schema: &Schema, value: &Value) -> Result<Value, String> {
        let value = field_value(value, schema, self.replace_null_with_default);
        let out = if self.fields.iter().any(|f| f == name) {
            mask(&value, Some(schema), self.replacement.as_deref())?
        } else {
            value
        };
        check_put(name, schema, &out)?;
        Ok(out)
    }

    /// Masks a struct part reading and writing only the fields that can change.
    fn rewrite_fields(
        &self,
        record: &Record<'_>,
        schema: &Schema,
        reads: &[Read],
    ) -> Result<Rewrite, String> {
        let part = settings::part_name(self.part);
        let mut changed = Vec::new();
        for read in reads {
            let (name, field_schema) = &schema.fields[read.index];
            if let Some(constant) = &read.constant {
                // Every non-null value masks to the constant; a null stays null (as does
                // every field of a null part).
                let null = record
                    .is_null(self.part, name)
                    .map_err(|e| format!("cannot read the {part} field '{name}': {e:?}"))?;
                if !null {
                    changed.push((name.clone(), constant.clone()));
                }
                continue;
            }
            // A top-level field of a struct is always there (maybe null); nothing is there
            // only when the part itself is null, which passes unchanged.
            let Some(value) = record
                .get(self.part, name)
                .map_err(|e| format!("cannot read the {part} field '{name}': {e:?}"))?
            else {
                return Ok(Rewrite::Unchanged);
            };
            let out = self.mask_field(name, field_schema, &value)?;
            if out != value {
                changed.push((name.clone(), out));
            }
        }
        Ok(Rewrite::Set(changed))
    }

    /// The plan for the part's schema `id`, worked out from `record`'s schema on first sight.
    fn plan(&mut self, record: &Record<'_>, id: u64) -> Result<Rc<Plan>, String> {
        let (fields, replacement) = (&self.fields, self.replacement.as_deref());
        self.plans.get_or_try_insert(id, || {
            let schema = record
                .schema(self.part, "")
                .map_err(|e| format!("cannot read the schema: {e:?}"))?
                .ok_or("the part has a schema id but no schema")?;
            Ok(Rc::new(Plan::new(schema, fields, replacement)))
        })
    }

    /// Masks a group of records sharing one schema, a few calls per field: a masked field
    /// with a constant mask is tested for null in one call and masked in another. Returns the
    /// records that need the one-record path: those with a null in a field whose default it
    /// may take, or all of them when the plan reads values (masks that depend on the value,
    /// masked fields with defaults) or the host refused. Constant masks are idempotent, so a
    /// record masked here and again on that path ends the same.
    fn mask_group(&self, records: &Records<'_>, plan: &Plan, group: &[u32]) -> Vec<u32> {
        let Some(reads) = &plan.reads else {
            return group.to_vec();
        };
        let mut one_by_one = Vec::new();
        for read in reads {
            let (name, _) = &plan.schema.fields[read.index];
            let masked = self.fields.contains(name);
            let Ok(nulls) = records.null_flags(group, self.part, name) else {
                return group.to_vec();
            };
            let (mut null, mut present) = (Vec::new(), Vec::new());
            for (index, is_null) in group.iter().copied().zip(nulls) {
                if is_null {
                    null.push(index);
                } else {
                    present.push(index);
                }
            }
            match (&read.constant, masked) {
                (Some(constant), _) => {
                    if !present.is_empty()
                        && records
                            .set_many(&present, self.part, name, constant)
                            .is_err()
                    {
                        return group.to_vec();
                    }
                }
                // A field kept as it is changes only when null (it may take its default).
                (None, false) => one_by_one.append(&mut null),
                (None, true) => return group.to_vec(),
            }
        }
        one_by_one
    }

    fn rewrite(&mut self, record: &Record<'_>) -> Result<Rewrite, String> {
        if let Some(id) = record.schema_id(self.part) {
            let plan = self.plan(record, id)?;
            if let Some(reads) = &plan.reads {
                return self.rewrite_fields(record, &plan.schema, reads);
            }
        }
        let fields = &self.fields;
        let replacement = self.replacement.as_deref();
        let derive = |s| Ok(Rc::new(Plan::new(s, fields, replacement)));
        let read = operand::read_non_null(record, self.part, &mut self.plans, derive)?;
        let Some((derived, value)) = read else {
            return Ok(Rewrite::Unchanged);
        };
        // Structs whose field names hold no dot were masked field by field above; here are
        // schemaless maps, and structs with dotted names (the host reads names as paths), whose
        // whole value is replaced (Connect keeps the struct's schema).
        let data = match derived {
            None => Data {
                schema: None,
                value: Value::Map(self.mask_map(require_map(&value, PURPOSE)?)?),
            },
            Some(plan) => {
                let fields = require_struct(&value, PURPOSE)?;
                Data {
                    value: Value::Struct(self.mask_struct(&plan.schema, fields)?),
                    schema: Some(plan.schema.clone()),
                }
            }
        };
        Ok(Rewrite::Replace(Some(data)))
    }
}

/// Connect's keys, with the implied `part`.
fn definition() -> ConfigDef {
    ConfigDef::new()
        .key(
            Key::new(
                "fields",
                KeyType::List,
                Importance::High,
                "The fields to mask (a non-empty list).",
            )
            .required(),
        )
        .key(Key::new(
            "replacement",
            KeyType::String,
            Importance::Low,
            "The value masked fields get (converted to the field's type); unset, each type's empty value.",
        ))
        .key(settings::replace_null_key())
        .key(settings::part_key())
}

impl Transform for MaskField {
    fn config_def() -> Option<ConfigDef> {
        Some(definition())
    }

    fn configure(config: Config) -> Result<Self, String> {
        let parsed = definition().parse(&config)?;
        let mut fields: Vec<String> = Vec::new();
        for field in settings::non_empty_list(&parsed, "fields")? {
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        let replacement = parsed.string("replacement").map(str::to_owned);
        if replacement.as_deref() == Some("") {
            return Err("setting 'replacement' must be a non-empty string when set".into());
        }
        Ok(MaskField {
            part: settings::part(&parsed),
            fields,
            replacement,
            replace_null_with_default: settings::replace_null_with_default(&parsed),
            plans: IdCache::default(),
        })
    }

    fn apply(&mut self, record: &mut Record<'_>) -> Outcome {
        let rewrite = self.rewrite(record);
        operand::commit(record, self.part, rewrite)
    }

    /// Masks the records of each schema with constant masks in a few calls per field; every
    /// other record goes through `apply`. Masking is idempotent for constant masks, so a group
    /// the host refused half-way is masked again record by record.
    fn apply_batch(&mut self, records: &Records<'_>) -> Vec<Outcome> {
        let mut outcomes = vec![Outcome::Keep; records.len() as usize];
        let (groups, mut one_by_one) = records.by_schema(self.part);
        for (id, group) in groups {
            match self.plan(&records.record(group[0]), id) {
                Ok(plan) => one_by_one.extend(self.mask_group(records, &plan, &group)),
                Err(_) => one_by_one.extend(group),
            }
        }
        one_by_one.sort_unstable();
        one_by_one.dedup();
        records.apply_each(self, one_by_one, &mut outcomes);
        outcomes
    }
}

export_transform!(MaskField);

#[cfg(test)]
mod tests {
    use super::*;
    use tidemark_sdk::SchemaType;

    fn masker(entries: &[(&str, &str)]) -> Result<MaskField, String> {
        MaskField::configure(Config::from_pairs(entries))
    }

    fn schema() -> Schema {
        let mut with_default = Schema::new(SchemaType::Int32).optional();
        with_default.default = Some(Value::Int32(7));
        Schema::new(SchemaType::Struct)
            .field("id", Schema::new(SchemaType::Int32))
            .field("email", Schema::optional_string())
            .field("score", with_default.clone())
            .field("other", with_default)
    }

    #[test]
    fn masks_named_fields_and_applies_defaults() {
        let m = masker(&[("fields", "email,score")]).unwrap();
        let values = [Value::Int32(1), "a@b".into(), Value::Null, Value::Null];
        assert_eq!(
            m.mask_struct(&schema(), &values).unwrap(),
            vec![Value::Int32(1), "".into(), Value::Int32(0), Value::Int32(7)]
        );
        let m = masker(&[
            ("fields", "score,other"),
            ("replace.null.with.default", "false"),
        ])
        .unwrap();
        assert_eq!(
            m.mask_struct(&schema(), &values).unwrap(),
            vec![Value::Int32(1), "a@b".into(), Value::Null, Value::Null]
        );
    }

    #[test]
    fn replacement_errors_fail_the_record() {
        let m = masker(&[("fields", "id"), ("replacement", "x")]).unwrap();
        let values = [Value::Int32(1), Value::Null, Value::Null, Value::Null];
        assert!(m.mask_struct(&schema(), &values).is_err());
    }

    #[test]
    fn schemaless_maps_gain_missing_fields_as_null() {
        let m = masker(&[("fields", "email,missing"), ("replacement", "***")]).unwrap();
        let entries = vec![
            ("email".into(), "a@b".into()),
            ("n".into(), Value::Int64(3)),
        ];
        assert_eq!(
            m.mask_map(&entries).unwrap(),
            vec![
                ("email".into(), "***".into()),
                ("n".into(), Value::Int64(3)),
                ("missing".into(), Value::Null),
            ]
        );
    }

    #[test]
    fn settings_are_checked() {
        assert!(masker(&[]).unwrap_err().contains("'fields'"));
        assert!(
            masker(&[("fields", "a"), ("replacement", "")])
                .unwrap_err()
                .contains("'replacement'")
        );
        assert!(masker(&[("fields", "a"), ("part", "x")]).is_err());
        assert_eq!(masker(&[("fields", "a,a")]).unwrap().fields, vec!["a"]);
    }
}
