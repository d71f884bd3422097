//! The lists of an IVFFlat index as stored: the meta page and the centre
//! pages, read into memory once per scan or insert. Safe code; page access is
//! `am::storage`'s.

#![forbid(unsafe_code)]

use pgrx::prelude::*;
use ruvector_core::index::Tid;
use ruvector_core::ivf::tuple::{parse_list, IvfMeta, IVF_MAGIC};
use ruvector_core::layout::AlignedRows;

use crate::am::kind::{IndexKind, Query};
use crate::am::storage::{ChainWalk, Index};

/// Where a list lives.
#[derive(Clone, Copy, Debug)]
pub struct ListEntry {
    /// The list tuple on a centre page.
    pub tuple: Tid,
    /// First page of the list's page chain.
    pub start: u32,
    /// The page inserts start from (at or before the chain's last page).
    pub insert: u32,
}

/// The centres, one aligned record each, in list order.
pub type Centres = AlignedRows;

/// Distance from `query` to every centre, in list order.
pub fn centre_distances(centres: &Centres, kind: IndexKind, query: &Query) -> Vec<f32> {
    (0..centres.len()).map(|i| query.distance(kind.measure, centres.get(i))).collect()
}

pub struct Lists {
    pub meta: IvfMeta,
    pub entries: Vec<ListEntry>,
    pub centres: Centres,
}

/// The meta page, checked.
pub fn meta(index: Index) -> IvfMeta {
    let meta: IvfMeta = index.meta();
    if meta.magic != IVF_MAGIC {
        crate::error::raise_code(PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED, "ivfflat index has a bad meta page");
    }
    meta
}

impl Lists {
    pub fn read(index: Index) -> Lists {
        let meta = meta(index);
        // The centres' length comes from the first one: an unlogged index
        // reset after a crash on a column without a typmod has one empty
        // centre while its meta page learns the length from the first insert.
        let mut lists = Lists { meta, entries: Vec::with_capacity(meta.lists as usize), centres: Centres::default() };
        let mut block = Some(meta.centre_block);
        let mut uneven = false;
        let mut walk = ChainWalk::pages(&index, "centre page");
        while let Some(b) = block {
            walk.step();
            block = index.read_page(b, |page| {
                for (offset, bytes) in page.items() {
                    if let Some((start, insert, centre)) = parse_list(bytes) {
                        if lists.entries.is_empty() {
                            lists.centres = Centres::new(centre.len());
                        }
                        if centre.len() != lists.centres.record_bytes() {
                            uneven = true;
                            return None;
                        }
                        lists.entries.push(ListEntry { tuple: Tid { block: b, offset }, start, insert });
                        lists.centres.push(centre);
                    }
                }
                page.next()
            });
        }
        if uneven {
            crate::error::raise_code(
                PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
                "ivfflat index has centres of different lengths",
            );
        }
        if lists.entries.len() != meta.lists as usize {
            crate::error::raise_code(
                PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
                format!("ivfflat index has {} lists, its meta page says {}", lists.entries.len(), meta.lists),
            );
        }
        lists
    }
}
