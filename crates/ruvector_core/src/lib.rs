//! The pgrx-free core of ruvector_pg.
//!
//! Everything here is plain Rust: it never calls PostgreSQL, never allocates
//! through palloc and never raises a PostgreSQL error. Failures are returned as
//! [`VectorError`], whose [`ErrorKind`] the extension layer maps to a SQLSTATE.
//! That split lets `cargo test -p ruvector_core` and `cargo bench -p ruvector_core`
//! exercise the algorithms without a server.

pub mod bits;
pub mod dense;
pub mod error;
pub mod hnsw;
pub mod index;
pub mod ivf;
pub mod kernels;
pub mod layout;
pub mod registry;
pub mod shared_cache;
pub mod sparse;
pub mod spin;
pub mod sq8;
pub mod tidstore;
pub mod toast;
pub mod workers;

pub use error::{ErrorKind, VectorError};
pub use layout::VectorData;
