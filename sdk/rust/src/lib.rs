//! Write Tidemark transform plugins in Rust.
//!
//! A transform is a type implementing [`Transform`] plus one [`export_transform!`]:
//!
//! ```ignore
//! use tidemark_sdk::{Config, Outcome, Record, Transform, export_transform};
//!
//! struct Upper;
//!
//! impl Transform for Upper {
//!     fn configure(_config: Config) -> Result<Self, String> {
//!         Ok(Upper)
//!     }
//!
//!     fn apply(&mut self, record: &mut Record<'_>) -> Outcome {
//!         let topic = record.topic().to_uppercase();
//!         record.set_topic(&topic);
//!         Outcome::Keep
//!     }
//! }
//!
//! export_transform!(Upper);
//! ```
//!
//! A transform declares its configuration keys once with [`Transform::config_def`] (a
//! [`ConfigDef`] of [`Key`]s) and parses its configuration with the same declaration
//! ([`ConfigDef::parse`]): the host then checks a configuration before `configure`, warns
//! about a misspelt key naming the closest declared one, and lists the keys in Kafka
//! Connect's REST API.
//!
//! Build with `cargo build --target wasm32-wasip2 --release`. Records stay in the host: a
//! plugin reads and writes only the fields it asks for, by dotted path (`after.email`).
//! A schema crosses the boundary once: [`Record::replace`] defines each distinct schema with
//! the host on first use and then sends only values; [`define_schema`] with
//! [`Record::replace_with`] and [`Record::rebuild`] let a plugin hold the id itself, and
//! `rebuild` assembles a struct in the host from pieces of the record (the fields of
//! `after`, the value of `op`) so that what is kept never leaves the host.

mod config;
mod defined;
mod keys;
mod record;
mod records;
mod schema;
mod value;

pub use config::Config;
pub use defined::{Piece, Pieces, SchemaId, define_schema};
pub use keys::{ConfigDef, Importance, Key, KeyType, Settings};
pub use record::{AccessError, Data, Emit, Header, NewRecord, Outcome, Part, Record};
pub use records::Records;
pub use schema::{Schema, SchemaType};
pub use value::Value;

extern crate self as tidemark_sdk;

/// Bindings generated from `wit/`; plugins normally need nothing from here.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "declared-transform",
        pub_export_macro: true,
        export_macro_name: "export_world",
        default_bindings_module: "::tidemark_sdk::bindings",
        runtime_path: "::tidemark_sdk::__private::wit_bindgen::rt",
    });
}

/// A single message transform.
pub trait Transform: Sized + 'static {
    /// Builds the transform from its configuration (the `transforms.<name>.*` properties
    /// without that prefix). An error message should name the setting and what to do.
    fn configure(config: Config) -> Result<Self, String>;

    /// The transform's keys, declared once: the host checks a configuration against them
    /// before [`configure`](Transform::configure) (naming the closest key for a misspelt
    /// one) and lists them in `GET /connector-plugins/{class}/config`. `configure` should
    /// parse its configuration with the same declaration ([`ConfigDef::parse`]). `None` (the
    /// default) declares nothing, and the host checks nothing.
    fn config_def() -> Option<ConfigDef> {
        None
    }

    /// Decides what becomes of one record; edits made through `record` are kept.
    fn apply(&mut self, record: &mut Record<'_>) -> Outcome;

    /// Decides what becomes of every record of a batch: one outcome per record, in order.
    /// The default applies [`apply`](Transform::apply) to each record. A transform whose
    /// records mostly share a shape overrides it to read and edit many records per call to
    /// the host ([`Records`]), and leaves the rest to `apply` ([`Records::apply_each`]).
    fn apply_batch(&mut self, records: &Records<'_>) -> Vec<Outcome> {
        let mut outcomes = vec![Outcome::Keep; records.len() as usize];
        records.apply_each(self, 0..records.len(), &mut outcomes);
        outcomes
    }
}

/// Writes a line to the host's log, tagged with the plugin's name.
pub fn log(level: LogLevel, message: &str) {
    bindings::tidemark::plugin::host::log(level, message);
}

pub use bindings::tidemark::plugin::host::Level as LogLevel;

#[doc(hidden)]
pub mod __private {
    use std::cell::RefCell;

    pub use wit_bindgen;

    use crate::bindings::exports::tidemark::plugin::config_schema as schema;
    use crate::bindings::exports::tidemark::plugin::transformer as wit;
    use crate::bindings::tidemark::plugin::records::Batch;
    use crate::{Config, ConfigDef, Importance, KeyType, Records, Transform};

    /// A declaration as the `config-schema` interface carries it.
    pub fn describe(def: Option<ConfigDef>) -> Option<Vec<schema::ConfigKey>> {
        let def = def?;
        Some(
            def.keys()
                .iter()
                .map(|key| schema::ConfigKey {
                    name: key.name.clone(),
                    type_: match key.key_type {
                        KeyType::String => schema::KeyType::String,
                        KeyType::Int => schema::KeyType::Int,
                        KeyType::Long => schema::KeyType::Long,
                        KeyType::Double => schema::KeyType::Double,
                        KeyType::Boolean => schema::KeyType::Boolean,
                        KeyType::List => schema::KeyType::List,
                        KeyType::Class => schema::KeyType::Class,
                        KeyType::Password => schema::KeyType::Password,
                    },
                    default_value: key.default.clone(),
                    required: key.required,
                    importance: match key.importance {
                        Importance::High => schema::Importance::High,
                        Importance::Medium => schema::Importance::Medium,
                        Importance::Low => schema::Importance::Low,
                    },
                    documentation: key.documentation.clone(),
                    allowed: key.allowed.clone(),
                    case_insensitive: key.case_insensitive,
                })
                .collect(),
        )
    }

    /// Runs `configure` and keeps the transform.
    pub fn configure<T: Transform>(
        state: &RefCell<Option<T>>,
        config: Vec<(String, String)>,
    ) -> Result<(), String> {
        let transform = T::configure(Config::new(config))?;
        *state.borrow_mut() = Some(transform);
        Ok(())
    }

    /// Applies the transform to every record of a batch.
    pub fn process<T: Transform>(state: &RefCell<Option<T>>, batch: &Batch) -> Vec<wit::Outcome> {
        let mut state = state.borrow_mut();
        let transform = state
            .as_mut()
            .expect("the host calls configure before process");
        transform
            .apply_batch(&Records::new(batch))
            .into_iter()
            .map(|outcome| outcome.into_wit())
            .collect()
    }
}

/// Exports a [`Transform`] as the plugin's `tidemark:plugin/transformer` implementation.
#[macro_export]
macro_rules! export_transform {
    ($transform:ty) => {
        struct __TidemarkTransformExport;

        ::std::thread_local! {
            static __TIDEMARK_TRANSFORM: ::std::cell::RefCell<::std::option::Option<$transform>> =
                const { ::std::cell::RefCell::new(::std::option::Option::None) };
        }

        impl $crate::bindings::exports::tidemark::plugin::transformer::Guest
            for __TidemarkTransformExport
        {
            fn configure(
                config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
            ) -> ::std::result::Result<(), ::std::string::String> {
                __TIDEMARK_TRANSFORM
                    .with(|state| $crate::__private::configure::<$transform>(state, config))
            }

            fn process(
                records: &$crate::bindings::tidemark::plugin::records::Batch,
            ) -> ::std::vec::Vec<$crate::bindings::exports::tidemark::plugin::transformer::Outcome>
            {
                __TIDEMARK_TRANSFORM
                    .with(|state| $crate::__private::process::<$transform>(state, records))
            }
        }

        impl $crate::bindings::exports::tidemark::plugin::config_schema::Guest
            for __TidemarkTransformExport
        {
            fn describe() -> ::std::option::Option<
                ::std::vec::Vec<
                    $crate::bindings::exports::tidemark::plugin::config_schema::ConfigKey,
                >,
            > {
                $crate::__private::describe(<$transform as $crate::Transform>::config_def())
            }
        }

        // Exported only when building the component; native builds (unit tests, clippy) of a
        // plugin crate compile the same code without the component's export symbols.
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::export_world!(__TidemarkTransformExport);
    };
}
