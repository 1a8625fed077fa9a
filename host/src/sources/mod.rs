//! Change data sources: one folder per database family.

pub mod postgres;
