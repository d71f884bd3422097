//! What both access methods share, beneath their algorithms: what an index
//! stores and how it measures ([`kind`]), the page store the algorithms run
//! on ([`store`]: the extension's buffer manager, or [`mem`] in tests), and
//! the deterministic scheduler concurrency tests run them under ([`sim`]),
//! tuple addresses and page geometry ([`page`]), and the Generic WAL
//! delta of a tuple changed in place ([`wal_delta`]).

#![forbid(unsafe_code)]

pub mod cost;
pub mod filter;
pub mod kind;
pub mod mem;
pub mod page;
pub mod sim;
pub mod store;
pub mod wal_delta;

pub use filter::{Condition, FilterKey, KeyFilter};
pub use kind::{Elem, IndexKind, Measure, Query, Row};
pub use mem::MemStore;
pub use page::{PageGeometry, Tid};
pub use store::{ChainWalk, MetaPage, PageStore};
