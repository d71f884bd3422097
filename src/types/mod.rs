//! SQL glue for the vector types. The dense types share one generic
//! implementation ([`dense`]) and one macro that declares their SQL functions
//! under pgvector's names; each type's module instantiates it.

#[macro_use]
mod dense;
mod bit;
mod halfvec;
mod ruvector;
mod sparsevec;
