//! Reading a record's key or value for a condition, with the schema cached per schema id:
//! only the fields the condition selects when it reads nothing else, else the whole part.

use std::collections::HashMap;
use std::sync::Arc;

use cel_interpreter::Value as Cel;
use cel_interpreter::objects::{Key, Map};
use tidemark_sdk::{Part, Record, Records, Schema, SchemaType, Value};

use crate::convert;
use crate::fast::{self, Scalar};

/// One part (key or value) as conditions read it: the fields they select, and the last
/// schema seen, kept while records carry the same schema id, with its CEL form once a
/// condition has asked for it and the fields' schemas.
#[derive(Default)]
pub struct PartReader {
    /// The field paths the condition reads, `None` when it needs the whole part.
    paths: Option<Vec<Vec<String>>>,
    id: Option<u64>,
    schema: Option<Schema>,
    schema_cel: Option<Cel>,
    /// For the current schema: each path, dotted, with its segments and the schema of the
    /// field it ends at. `None` when a path does not lead through struct fields.
    fields: Option<Vec<Field>>,
}

struct Field {
    path: String,
    segments: Vec<String>,
    schema: Schema,
}

impl PartReader {
    /// A reader for a condition that reads these field paths of the part (`None`: all of it).
    pub fn new(paths: Option<&[Vec<String>]>) -> PartReader {
        PartReader {
            paths: paths.map(<[_]>::to_vec),
            ..PartReader::default()
        }
    }

    /// The part as CEL, `None` when it is null (with or without a schema). With a schema whose structs lead to every
    /// path the condition reads, only those fields are read, as a map of just them; else (or
    /// when a struct on a path is null, so that the condition sees exactly what it would see
    /// with the whole part) the whole part.
    pub fn read(&mut self, record: &Record<'_>, part: Part) -> Option<Cel> {
        if self.paths.is_some() {
            self.schema(record, part);
            if let Some(fields) = &self.fields
                && let Some(cel) = read_fields(record, part, fields)
            {
                return Some(cel);
            }
        }
        // A null part with a schema (ExtractNewRecordState's deletes) is null, as in Connect.
        let data = record
            .get(part, "")
            .ok()
            .flatten()
            .filter(|v| !v.is_null())?;
        Some(convert::value(&data, self.schema(record, part)))
    }

    /// The fields the condition selects, in the order of its paths, as the fast path compares
    /// them (`None` for a value it does not compare); `None` when the part is null, a struct
    /// on a path is null, or a path does not lead through struct fields.
    pub fn scalars(&mut self, record: &Record<'_>, part: Part) -> Option<Vec<Option<Scalar>>> {
        self.schema(record, part);
        self.fields
            .as_ref()?
            .iter()
            .map(|field| {
                let value = record.get(part, &field.path).ok()??;
                Some(fast::scalar(value, &field.schema))
            })
            .collect()
    }

    /// [`scalars`](PartReader::scalars) of each record of `group`, whose part has one schema,
    /// with one call per field; `None` when a path does not lead through struct fields or the
    /// host cannot read a path.
    pub fn scalars_many(
        &mut self,
        records: &Records<'_>,
        part: Part,
        group: &[u32],
    ) -> Option<Vec<Option<Vec<Option<Scalar>>>>> {
        self.schema(&records.record(*group.first()?), part);
        let fields = self.fields.as_ref()?;
        let mut columns = fields
            .iter()
            .map(|field| {
                let values = records.get_many(group, part, &field.path).ok()?;
                Some(values.into_iter().zip(std::iter::repeat(&field.schema)))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(
            (0..group.len())
                .map(|_| {
                    columns
                        .iter_mut()
                        .map(|column| {
                            let (value, schema) = column.next()?;
                            Some(fast::scalar(value?, schema))
                        })
                        .collect()
                })
                .collect(),
        )
    }

    /// The part's schema as CEL (`Null` when schemaless or null).
    pub fn schema_cel(&mut self, record: &Record<'_>, part: Part) -> Cel {
        if self.schema(record, part).is_none() {
            return Cel::Null;
        }
        if self.schema_cel.is_none() {
            self.schema_cel = self.schema.as_ref().map(convert::schema);
        }
        self.schema_cel.clone().unwrap_or(Cel::Null)
    }

    /// The part's schema, fetched only when its id differs from the last one seen.
    fn schema(&mut self, record: &Record<'_>, part: Part) -> Option<&Schema> {
        let Some(id) = record.schema_id(part) else {
            self.id = None;
            self.schema = None;
            self.fields = None;
            return None;
        };
        if self.id != Some(id) || self.schema.is_none() {
            self.schema = record.schema(part, "").ok().flatten();
            self.schema_cel = None;
            self.fields = match (&self.schema, &self.paths) {
                (Some(schema), Some(paths)) => fields(schema, paths),
                _ => None,
            };
            self.id = Some(id);
        }
        self.schema.as_ref()
    }
}

/// Where each path leads in `schema`, through struct fields only.
fn fields(schema: &Schema, paths: &[Vec<String>]) -> Option<Vec<Field>> {
    paths
        .iter()
        .map(|segments| {
            let mut at = schema;
            for segment in segments {
                if at.kind != SchemaType::Struct {
                    return None;
                }
                at = at.field_schema(segment)?;
            }
            Some(Field {
                path: segments.join("."),
                segments: segments.clone(),
                schema: at.clone(),
            })
        })
        .collect()
}

/// The fields read one by one into nested maps; `None` when the part or a struct on a path
/// is null (or the host cannot read a path).
fn read_fields(record: &Record<'_>, part: Part, fields: &[Field]) -> Option<Cel> {
    let mut root = Tree::default();
    for field in fields {
        let value: Value = record.get(part, &field.path).ok()??;
        root.insert(&field.segments, convert::value(&value, Some(&field.schema)));
    }
    Some(root.into_cel())
}

/// Nested maps under construction.
#[derive(Default)]
struct Tree(Vec<(String, Node)>);

enum Node {
    Leaf(Cel),
    Branch(Tree),
}

impl Tree {
    /// Puts `cel` at `segments` (no path given is a prefix of another).
    fn insert(&mut self, segments: &[String], cel: Cel) {
        let Some((first, rest)) = segments.split_first() else {
            return;
        };
        if rest.is_empty() {
            self.0.push((first.clone(), Node::Leaf(cel)));
            return;
        }
        let at = match self.0.iter().position(|(k, _)| k == first) {
            Some(at) => at,
            None => {
                self.0.push((first.clone(), Node::Branch(Tree::default())));
                self.0.len() - 1
            }
        };
        if let Node::Branch(tree) = &mut self.0[at].1 {
            tree.insert(rest, cel);
        }
    }

    fn into_cel(self) -> Cel {
        let map: HashMap<Key, Cel> = self
            .0
            .into_iter()
            .map(|(k, node)| {
                let cel = match node {
                    Node::Leaf(cel) => cel,
                    Node::Branch(tree) => tree.into_cel(),
                };
                (Key::String(Arc::new(k)), cel)
            })
            .collect();
        Cel::Map(Map { map: Arc::new(map) })
    }
}
