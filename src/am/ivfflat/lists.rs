//! The lists of an IVFFlat index as stored: the meta page and the centre
//! pages, read into memory once per scan or insert. Safe code; page access is
//! `am::storage`'s.

use pgrx::prelude::*;
use ruvector_core::hnsw::tuple::Tid;
use ruvector_core::ivf::tuple::{parse_list, IvfMeta, IVF_MAGIC};

use crate::am::kind::{IndexKind, Query};
use crate::am::storage::Index;

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

/// The centres, 8-byte aligned one after another so the kernels read them in
/// place (a byte vector would not be aligned for f32).
pub struct Centres {
    words: Vec<u64>,
    stride: usize,
    bytes: usize,
}

impl Centres {
    pub fn new(bytes: usize) -> Self {
        Centres { words: Vec::new(), stride: bytes.div_ceil(8), bytes }
    }

    pub fn push(&mut self, centre: &[u8]) {
        let at = self.words.len();
        self.words.resize(at + self.stride, 0);
        bytemuck::cast_slice_mut::<u64, u8>(&mut self.words[at..])[..self.bytes].copy_from_slice(centre);
    }

    pub fn get(&self, i: usize) -> &[u8] {
        &bytemuck::cast_slice::<u64, u8>(&self.words[i * self.stride..(i + 1) * self.stride])[..self.bytes]
    }

    pub fn len(&self) -> usize {
        self.words.len() / self.stride.max(1)
    }

    /// Distance from `query` to every centre, in list order.
    pub fn distances(&self, kind: IndexKind, query: &Query) -> Vec<f32> {
        (0..self.len()).map(|i| query.distance(kind.measure, self.get(i))).collect()
    }
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
    pub fn read(index: Index, kind: IndexKind) -> Lists {
        let meta = meta(index);
        let centre_bytes = kind.elem.row_bytes(meta.dims as usize).unwrap_or(0);
        let mut lists =
            Lists { meta, entries: Vec::with_capacity(meta.lists as usize), centres: Centres::new(centre_bytes) };
        let mut block = Some(meta.centre_block);
        while let Some(b) = block {
            block = index.read_page(b, |page| {
                for (offset, bytes) in page.items() {
                    if let Some((start, insert, centre)) = parse_list(bytes) {
                        lists.entries.push(ListEntry { tuple: Tid { block: b, offset }, start, insert });
                        lists.centres.push(centre);
                    }
                }
                page.next()
            });
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
