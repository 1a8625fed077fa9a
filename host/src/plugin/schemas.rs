//! The schemas one plugin instance handed the host with `define-schema`, by content id, so
//! that its records carry only values across the boundary.

use std::collections::HashMap;
use std::sync::Arc;

use crate::event::Schema;

/// How many distinct schemas one plugin instance may define. Far more than a connector's
/// tables and their versions need; a plugin past it falls back to `replace`, which carries
/// the schema with every record.
pub const MAX_DEFINED_SCHEMAS: usize = 4096;

/// Defined schemas by their content id ([`Schema::id`]).
#[derive(Debug, Default)]
pub struct SchemaTable {
    by_id: HashMap<u64, Arc<Schema>>,
}

impl SchemaTable {
    /// Remembers a (checked) schema and returns its id; defining an equal schema again
    /// returns the same id.
    pub fn define(&mut self, schema: Arc<Schema>) -> Result<u64, String> {
        let id = schema.id();
        if let Some(known) = self.by_id.get(&id) {
            return if **known == *schema {
                Ok(id)
            } else {
                Err(format!(
                    "schema id {id:#x} is already taken by a different schema; use replace"
                ))
            };
        }
        if self.by_id.len() >= MAX_DEFINED_SCHEMAS {
            return Err(format!(
                "this plugin instance has defined {MAX_DEFINED_SCHEMAS} schemas, the most it \
                 may; use replace, which carries the schema"
            ));
        }
        self.by_id.insert(id, schema);
        Ok(id)
    }

    /// The schema defined under `id`.
    pub fn get(&self, id: u64) -> Option<&Arc<Schema>> {
        self.by_id.get(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::SchemaType;

    #[test]
    fn equal_schemas_share_an_id_and_the_table_is_bounded() {
        let mut table = SchemaTable::default();
        let a = Arc::new(Schema::new(SchemaType::Struct).named("a"));
        let id = table.define(a.clone()).unwrap();
        assert_eq!(id, a.id());
        assert_eq!(table.define(Arc::new(Schema::clone(&a))), Ok(id));
        assert_eq!(table.get(id).map(|s| s.name.as_deref()), Some(Some("a")));
        assert!(table.get(id ^ 1).is_none());
        for n in 1..MAX_DEFINED_SCHEMAS {
            table
                .define(Arc::new(
                    Schema::new(SchemaType::Int32).named(n.to_string()),
                ))
                .unwrap();
        }
        let err = table
            .define(Arc::new(Schema::new(SchemaType::Int64)))
            .unwrap_err();
        assert!(err.contains("use replace"), "{err}");
        // An already defined schema is still found.
        assert_eq!(table.define(a), Ok(id));
    }
}
