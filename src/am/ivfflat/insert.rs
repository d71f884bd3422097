//! `aminsert`: a row goes to the list of its nearest centre, appended to the
//! list's page chain from the list's insert page (`Index::append_to_chain`,
//! Generic WAL). When the insert had to move past the recorded insert page,
//! the list tuple is updated to point at the page used, so later inserts skip
//! the full pages. In format 3 the row's full copy is appended to the copy
//! pages' chain first (its insert page kept in the meta page the same way),
//! and the row points at it: a crash between the two leaves a copy no row
//! points at, of a heap row that never committed, which VACUUM removes.

use pgrx::pg_sys;
use pgrx::prelude::*;
use ruvector_core::index::Tid;
use ruvector_core::ivf::tuple::{
    append_row_with_copy, encode_row, set_list_insert, IvfMeta, IVF_VERSION_COPIES, IVF_VERSION_SQ8,
};

use crate::am::callbacks;
use crate::am::kind::{check_row_dims, index_kind, read_row};
use crate::am::storage::Index;

#[pg_guard]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C-unwind" fn aminsert(
    index: pg_sys::Relation,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    heap_tid: pg_sys::ItemPointer,
    _heap: pg_sys::Relation,
    _check_unique: pg_sys::IndexUniqueCheck::Type,
    _index_unchanged: bool,
    _info: *mut pg_sys::IndexInfo,
) -> bool {
    // SAFETY: aminsert's arguments.
    let Some((value, tid)) = (unsafe { callbacks::insert_args(values, isnull, heap_tid) }) else { return false };
    let kind = index_kind(index, "ivfflat");
    // SAFETY: the indexed column's datum, of the type index_kind() found.
    let Some(row) = (unsafe { read_row(kind, value) }) else { return false };
    let idx = Index::new(index);
    let meta = super::lists::meta(idx);
    if meta.dims == 0 {
        // an unlogged index reset after a crash, on a column without a typmod:
        // the first row fixes the length
        super::build::check_dims(kind, row.dims);
        idx.update_meta(|m: &mut IvfMeta| {
            if m.dims == 0 {
                m.dims = row.dims as u32;
            }
        });
    } else {
        check_row_dims(meta.dims as usize, row.dims);
    }
    let given = (meta.version == IVF_VERSION_COPIES).then(|| row.raw.clone());
    let (magnitude, row) = row.prepared_with_magnitude(kind);
    let Some(row) = row else { return false }; // zero vector under cosine
    let entry = super::lists::nearest(idx, &meta, kind, &row.query(kind));
    let tuple = match given {
        Some(given) => {
            if meta.copy_insert == 0 {
                crate::error::raise_code(
                    PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
                    "ivfflat index of format 3 has no copy pages",
                );
            }
            let payload = super::sq8_payload(kind, &row.raw, magnitude);
            let copy = if super::needs_copy(kind, &payload, row.dims) {
                let copy = idx.append_to_chain(meta.copy_insert, &encode_row(tid, &given));
                if copy.block != meta.copy_insert {
                    idx.update_meta(|m: &mut IvfMeta| m.copy_insert = copy.block);
                }
                copy
            } else {
                Tid::INVALID
            };
            let mut tuple = Vec::new();
            append_row_with_copy(&mut tuple, tid, copy, &payload);
            tuple
        }
        None if meta.version == IVF_VERSION_SQ8 => encode_row(tid, &super::sq8_payload(kind, &row.raw, magnitude)),
        None => encode_row(tid, &row.raw),
    };
    let at = idx.append_to_chain(entry.insert, &tuple);
    idx.registry_add::<IvfMeta>(1);
    if at.block != entry.insert {
        idx.update(entry.tuple, |bytes| (set_list_insert(bytes, at.block), ()));
    }
    false
}
