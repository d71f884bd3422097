//! The lists of an IVFFlat index as stored: the meta page and the centre
//! pages, read into memory once per scan, or measured in place by an
//! insert. Safe code; page access is `am::storage`'s.

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
        let mut lists = Lists { meta, entries: Vec::with_capacity(meta.lists as usize), centres: Centres::default() };
        walk(index, &meta, |entry, centre| {
            if lists.entries.is_empty() {
                lists.centres = Centres::new(centre.len());
            }
            lists.entries.push(entry);
            lists.centres.push(centre);
        });
        lists
    }
}

/// How many tuples the page chain from block `start` holds (none for 0, the
/// meta page: a format without that chain); `what` names its pages in the
/// error a corrupt (cyclic) chain raises.
pub fn chain_tuples(index: Index, start: u32, what: &'static str) -> u64 {
    let mut count = 0u64;
    let mut block = (start != 0).then_some(start);
    let mut walk = ChainWalk::pages(&index, what);
    while let Some(b) = block {
        walk.step();
        block = index.read_page(b, |page| {
            count += page.items().count() as u64;
            page.next()
        });
    }
    count
}

/// Every list with its centre's distance to `query` (0 without one), in
/// list order, measured on the centre pages: a scan does not copy the
/// centres (100 centres of 1,536 dimensions are 600 kB per query).
pub fn measure_all(index: Index, meta: &IvfMeta, kind: IndexKind, query: Option<&Query>) -> Vec<(f32, ListEntry)> {
    let mut out = Vec::with_capacity(meta.lists as usize);
    let only = meta.lists == 1;
    let query = query.map(|q| q.row_measure(kind.measure));
    walk(index, meta, |entry, centre| {
        let d = match &query {
            Some(q) if !only => q.distance(centre),
            _ => 0.0,
        };
        out.push((d, entry));
    });
    out
}

/// The list whose centre is nearest to `query` (an insert's), measured on
/// the centre pages without copying the centres. With one list, that one,
/// unmeasured (its centre may be the empty one of an unlogged index reset
/// after a crash).
pub fn nearest(index: Index, meta: &IvfMeta, kind: IndexKind, query: &Query) -> ListEntry {
    let mut best: Option<(f32, ListEntry)> = None;
    let only = meta.lists == 1;
    // the kernel chosen once, not per centre (the same distances)
    let query = query.row_measure(kind.measure);
    walk(index, meta, |entry, centre| {
        let d = if only { 0.0 } else { query.distance(centre) };
        // the first of equally near centres, as ivf::argmin picks
        if best.is_none_or(|(b, _)| d < b) {
            best = Some((d, entry));
        }
    });
    best.expect("walk found the meta page's lists").1
}

/// Call `each` with every list and its centre, in list order, from the
/// centre pages; an index whose centres differ in length, or whose lists
/// are not the meta page's count, is corrupt. The centres' length comes from
/// the first one: an unlogged index reset after a crash on a column without
/// a typmod has one empty centre while its meta page learns the length from
/// the first insert.
fn walk(index: Index, meta: &IvfMeta, mut each: impl FnMut(ListEntry, &[u8])) {
    let mut block = Some(meta.centre_block);
    let (mut count, mut length, mut uneven) = (0usize, None, false);
    let mut chain = ChainWalk::pages(&index, "centre page");
    while let Some(b) = block {
        chain.step();
        block = index.read_page(b, |page| {
            // the next centre page is hinted as this one is read (as a scan's
            // list pages are: scan.rs)
            let mut ahead = index.page_prefetch(page.next());
            for (offset, bytes) in page.items() {
                ahead.keep_pace(bytes.len());
                if let Some((start, insert, centre)) = parse_list(bytes) {
                    if *length.get_or_insert(centre.len()) != centre.len() {
                        uneven = true;
                        return None;
                    }
                    count += 1;
                    each(ListEntry { tuple: Tid { block: b, offset }, start, insert }, centre);
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
    if count != meta.lists as usize {
        crate::error::raise_code(
            PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
            format!("ivfflat index has {count} lists, its meta page says {}", meta.lists),
        );
    }
}
