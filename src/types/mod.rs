//! SQL glue for the vector types: input/output, typmods, wire format and casts.

pub mod ruvector;
