//! `ruvector_index_check` for ivfflat indexes: the meta page, the centre
//! chain (centres of one length, as many lists as the meta page says), each
//! list's page chain (no loop, no page in two lists, its insert page on it), every row tuple (the length its format writes, a
//! heap TID inside the table), in format 3 every copy (on the copy chain,
//! the length of a `ruvector` of the index's dimensions, its row's heap TID)
//! and every row's pointer to its copy; then the table: every row a build
//! would index now is in the index, once, and the index's copy of it is
//! the row's vector (format 1: the values; formats 2 and 3: an SQ8 copy
//! within its stated error, `ivf::sq8_rows::check_payload`, and in format 3
//! the full copy, byte for byte), so a damaged vector a scan would rank
//! wrongly is reported too.
//!
//! The table is locked in SHARE mode for the check, as CREATE INDEX does:
//! writers wait, so the lists and the table are compared at one moment (on
//! a standby the table is not compared: `am::heap_rows`).
//! Raises an ERROR (SQLSTATE XX002) naming the first violation; returns a
//! one-line summary otherwise. Page access is `am::storage`'s, the table's
//! rows `am::heap_rows`'; the unsafe parts here are the relation handles.

use std::collections::HashMap;

use pgrx::pg_sys;
use pgrx::prelude::*;
use ruvector_core::index::Tid;
use ruvector_core::ivf::tuple::{
    copy_len, parse_row, row_copy, row_len, row_payload_at, IVF_VERSION, IVF_VERSION_COPIES, ROW_HEADER,
};

use super::lists::Lists;
use crate::am::heap_rows::{compares_table, table_lock};
use crate::am::kind::{index_kind, read_row};
use crate::am::storage::{tid_key, ChainWalk, Index, PageView};

fn violation(msg: String) -> ! {
    crate::error::raise_code(PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED, msg)
}

/// Walk the page chain from `start` (a loop, or a link outside the index's
/// data pages, is a violation), calling `each` with every page; whether
/// `insert` is on the chain.
fn walk_chain(idx: Index, start: u32, insert: u32, what: &'static str, mut each: impl FnMut(u32, &PageView)) -> bool {
    let nblocks = idx.nblocks();
    let mut walk = ChainWalk::pages(&idx, what);
    let (mut block, mut insert_seen) = (Some(start), false);
    while let Some(b) = block {
        if b == 0 || b >= nblocks {
            violation(format!("a {what} chain reaches block {b}, outside the index's data pages 1..{nblocks}"));
        }
        walk.step();
        insert_seen |= b == insert;
        block = idx.read_page(b, |page| {
            each(b, page);
            page.next()
        });
    }
    insert_seen
}

/// Check the ivfflat index `index` (a relation of this access method, which
/// the caller may read) and summarise it.
pub fn check(index: pg_sys::Oid) -> String {
    // SAFETY: the index and its table opened for the check and closed at its
    // end (an ERROR releases them with the transaction); SHARE on the table
    // keeps writers out meanwhile, as CREATE INDEX does.
    let (rel, heap) = unsafe {
        let rel = pg_sys::index_open(index, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let heap = pg_sys::table_open((*(*rel).rd_index).indrelid, table_lock());
        (rel, heap)
    };
    let kind = index_kind(rel, "ivfflat");
    let idx = Index::new(rel);
    let lists = Lists::read(idx);
    let meta = lists.meta;
    let dims = meta.dims as usize;
    let vector_bytes = kind.elem.row_bytes(dims).unwrap_or(0);
    let Some(expected_row) = row_len(meta.version, dims, vector_bytes) else {
        violation(format!("meta page: unknown format {}", meta.version))
    };
    // (the centres' length is not compared with the rows': an index built
    // on a column without dimensions before any row had placeholder
    // centres, its meta page learning the length from the first insert)
    let nblocks = idx.nblocks();
    // SAFETY: the table opened above.
    let heap_blocks = unsafe { pg_sys::RelationGetNumberOfBlocksInFork(heap, pg_sys::ForkNumber::MAIN_FORKNUM) };
    // Format 3: the copies, by where they are, with the heap row each is of.
    let mut copies: HashMap<Tid, Tid> = HashMap::new();
    if meta.version == IVF_VERSION_COPIES {
        let on_chain = walk_chain(idx, meta.copy_start, meta.copy_insert, "copy page", |b, page| {
            for (offset, bytes) in page.items() {
                let at = Tid { block: b, offset };
                match parse_row(bytes) {
                    Some((heap_tid, _)) if bytes.len() == copy_len(vector_bytes) => copies.insert(at, heap_tid),
                    _ => violation(format!("copy {at:?} is malformed ({} bytes)", bytes.len())),
                };
            }
        });
        if !on_chain {
            violation(format!("the copy insert page {} is not on the copy chain", meta.copy_insert));
        }
    }

    // The lists: each page in one list, each row well formed, each heap row once.
    let mut owner: HashMap<u32, usize> = HashMap::new();
    // heap row → where its index row is
    let mut rows: HashMap<u64, Tid> = HashMap::new();
    let mut used_copies = 0usize;
    for (l, entry) in lists.entries.iter().enumerate() {
        let on_chain = walk_chain(idx, entry.start, entry.insert, "list page", |b, page| {
            if let Some(other) = owner.insert(b, l) {
                violation(format!("page {b} is in list {other} and list {l}"));
            }
            for (offset, bytes) in page.items() {
                let at = Tid { block: b, offset };
                let Some((heap_tid, _)) = parse_row(bytes).filter(|_| bytes.len() == expected_row) else {
                    violation(format!(
                        "row {at:?} of list {l} has {} bytes, format {} writes {expected_row}",
                        bytes.len(),
                        meta.version
                    ))
                };
                if heap_tid.offset == 0 || heap_tid.block >= heap_blocks {
                    violation(format!(
                        "row {at:?} of list {l} names heap row {heap_tid:?}, outside the table's {heap_blocks} blocks"
                    ));
                }
                if rows.insert(tid_key(heap_tid), at).is_some() {
                    violation(format!("heap row {heap_tid:?} is indexed twice (again at {at:?})"));
                }
                if meta.version == IVF_VERSION_COPIES {
                    let copy = row_copy(bytes).unwrap_or(Tid::INVALID);
                    if copy.is_valid() {
                        if copies.get(&copy) != Some(&heap_tid) {
                            violation(format!("row {at:?} points at copy {copy:?}, which is not its row's copy"));
                        }
                        used_copies += 1;
                    } else if super::needs_copy(kind, &bytes[row_payload_at(meta.version)..], dims) {
                        violation(format!("row {at:?} has no copy, but its vector needs one"));
                    }
                }
            }
        });
        if !on_chain {
            violation(format!("list {l}'s insert page {} is not on its chain", entry.insert));
        }
        pgrx::check_for_interrupts!();
    }

    // The table: every row a build would index is in a list, as its vector.
    let mut dims = super::build::Dims { dims, kind };
    let payload_at = row_payload_at(meta.version);
    let mut rule = |heap_tid: Tid, values: *const pg_sys::Datum, isnull: *const bool| {
        // SAFETY: the scan's one key column; a datum of the type index_kind() found.
        let Some(value) = (unsafe { (!*isnull).then(|| *values) }) else { return false };
        // the build's own rule: a zero vector under cosine is not indexed
        let Some((row, magnitude)) = dims.row(value) else { return false };
        // the row's bytes copied out under its page lock, compared after it
        let stored = rows.get(&tid_key(heap_tid)).and_then(|&at| {
            idx.read(at, |bytes| (at, bytes.get(payload_at..).unwrap_or_default().to_vec(), row_copy(bytes)))
        });
        if let Some((at, payload, copy)) = stored {
            let differs = if meta.version == IVF_VERSION {
                kind.elem.stored_matches(kind.measure, &payload, &row.raw).err()
            } else {
                let mut values = Vec::new();
                super::build::dense_values(kind.elem, &row.raw, &mut values);
                let differs = ruvector_core::ivf::sq8_rows::check_payload(&payload, &values, magnitude).err();
                differs.or_else(|| {
                    let copy = copy.filter(|c| c.is_valid() && meta.version == IVF_VERSION_COPIES)?;
                    // SAFETY: the scan's key column, as above.
                    let given = unsafe { read_row(kind, value) }?.raw;
                    let stored = idx.read(copy, |c| c.get(ROW_HEADER..).map(<[u8]>::to_vec))??;
                    (stored != given).then(|| format!("its full copy {copy:?} is not the table's vector"))
                })
            };
            if let Some(problem) = differs {
                violation(format!("row {at:?} does not hold heap row {heap_tid:?}'s vector: {problem}"));
            }
        }
        true
    };
    // SAFETY: the relations opened above, the table in SHARE mode.
    let compared = compares_table();
    let table_rows =
        if compared { unsafe { crate::am::heap_rows::indexed_rows(heap, rel, &mut rule) } } else { vec![] };
    if let Some((first, count)) = crate::am::heap_rows::first_missing(&table_rows, &rows) {
        violation(format!("heap row {first:?} is in no list ({count} of {} rows are missing)", table_rows.len()));
    }
    // SAFETY: opened above with these lock modes.
    unsafe {
        pg_sys::table_close(heap, table_lock());
        pg_sys::index_close(rel, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
    }
    let copies_note = if meta.version == IVF_VERSION_COPIES {
        format!(", {used_copies} copies ({} not pointed at)", copies.len() - used_copies)
    } else {
        String::new()
    };
    let table_note = if compared {
        format!("{} table rows indexed", table_rows.len())
    } else {
        "table not compared (recovery)".into()
    };
    format!(
        "ok: {} rows in {} lists (format {}), {table_note}{copies_note}, {nblocks} pages",
        rows.len(),
        lists.entries.len(),
        meta.version,
    )
}
