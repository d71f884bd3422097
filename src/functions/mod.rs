//! SQL functions on `ruvector`: distances, arithmetic, comparison, aggregates,
//! and introspection. Each is a few lines of glue over `ruvector_core`.

mod aggregates;
mod arithmetic;
mod distance;
mod info;
