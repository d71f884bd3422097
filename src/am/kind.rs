//! What an index stores and how it measures, shared by `hnsw` and `ivfflat`:
//! the element type (from the column type), the metric (from the opclass's
//! support functions), rows read from datums and prepared for the metric,
//! and queries in the index's element type. Safe code except `read_row`,
//! which reads a datum through `crate::datum`.

use pgrx::datum::FromDatum;
use pgrx::pg_sys;
use pgrx::prelude::*;
use ruvector_core::index::kind::Metric;

use crate::datum::{BitArg, DenseArg, SparseArg};
pub use ruvector_core::index::kind::{metric_code, pair_metric, Elem, IndexKind, Measure, Query, Row};

fn proc_name(index: pg_sys::Relation, procnum: u16) -> Option<String> {
    // SAFETY: reading the index's opclass support procedures from the relcache.
    unsafe {
        let oid = pg_sys::index_getprocid(index, index_columns(index).vector as i16 + 1, procnum);
        if oid == pg_sys::InvalidOid {
            return None;
        }
        let name = pg_sys::get_func_name(oid);
        (!name.is_null()).then(|| core::ffi::CStr::from_ptr(name).to_string_lossy().into_owned())
    }
}

/// The element type a column type stores, found by the unqualified catalogue
/// name of its base type (domains resolved), so that neither `search_path`
/// (which qualifies `format_type_be`'s text) nor a domain changes it.
fn elem_of_type(typid: pg_sys::Oid) -> Result<(Elem, &'static str), String> {
    // SAFETY: catalogue lookups of an existing type; the syscache tuple is
    // released before returning and its name copied out first.
    let name = unsafe {
        let base = pg_sys::getBaseType(typid);
        if base == pg_sys::BITOID {
            return Ok((Elem::Bit, ""));
        }
        crate::am::access::with_catalog_row(
            pg_sys::SysCacheIdentifier::TYPEOID,
            base,
            |t: &pg_sys::FormData_pg_type| {
                core::ffi::CStr::from_ptr(t.typname.data.as_ptr()).to_string_lossy().into_owned()
            },
        )
        .ok_or_else(|| format!("type {} does not exist", base.to_u32()))?
    };
    match name.as_str() {
        "ruvector" => Ok((Elem::F32, "vector")),
        "halfvec" => Ok((Elem::F16, "halfvec")),
        "sparsevec" => Ok((Elem::Sparse, "sparsevec")),
        other => Err(other.to_string()),
    }
}

/// The element type and metric of an index, worked out from the catalogue
/// (`kind_from_catalogue`) once per relcache entry and kept in `rd_amcache`
/// (freed by PostgreSQL whenever the entry is invalidated: ALTER INDEX,
/// REINDEX, DROP). When the index already has a meta page, its magic,
/// version and metric are checked against the catalogue at the same time,
/// so a page that is not ours or an index of another opclass is an ERROR
/// (XX002), not a misread.
/// What a backend keeps about an index in its relcache entry (`rd_amcache`,
/// which PostgreSQL frees whenever the entry is invalidated: ALTER, REINDEX,
/// TRUNCATE, DROP): its kind, and for hnsw the build nonce last read from
/// its meta page (see hnsw::meta_for_search).
#[repr(C)]
struct AmCache {
    tag: u64,
    kind: IndexKind,
    nonce: Option<u32>,
}
const AM_CACHE_TAG: u64 = 0x7275_7665_6374_6b64;

/// The index's AmCache, if `index_kind` made one.
fn am_cache(index: pg_sys::Relation) -> Option<*mut AmCache> {
    // SAFETY: rd_amcache is null or an AmCache made by index_kind (checked by its tag).
    unsafe {
        let cached = (*index).rd_amcache as *mut AmCache;
        (!cached.is_null() && (*cached).tag == AM_CACHE_TAG).then_some(cached)
    }
}

/// The build nonce this backend last read from the index's meta page, for
/// this relcache entry.
pub fn cached_nonce(index: pg_sys::Relation) -> Option<u32> {
    // SAFETY: an AmCache of this relcache entry (am_cache).
    am_cache(index).and_then(|c| unsafe { (*c).nonce })
}

/// Remember the build nonce just read from the meta page (after `index_kind`).
pub fn set_cached_nonce(index: pg_sys::Relation, nonce: u32) {
    if let Some(c) = am_cache(index) {
        // SAFETY: as above; this backend's own relcache entry.
        unsafe { (*c).nonce = Some(nonce) };
    }
}

pub fn index_kind(index: pg_sys::Relation, am: &str) -> IndexKind {
    // SAFETY: rd_amcache is null or was set below to an AmCache in the
    // index's own memory context.
    unsafe {
        let cached = (*index).rd_amcache as *const AmCache;
        if !cached.is_null() && (*cached).tag == AM_CACHE_TAG {
            return (*cached).kind;
        }
    }
    let kind = kind_from_catalogue(index, am);
    let storage = crate::am::storage::Index::new(index);
    if storage.nblocks() > 0 {
        check_meta_page(storage, am, kind);
    }
    // SAFETY: allocated in the relcache entry's index context, which lives as
    // long as rd_amcache may point into it.
    unsafe {
        let cache = pg_sys::MemoryContextAlloc((*index).rd_indexcxt, std::mem::size_of::<AmCache>()) as *mut AmCache;
        cache.write(AmCache { tag: AM_CACHE_TAG, kind, nonce: None });
        (*index).rd_amcache = cache.cast();
    }
    kind
}

/// Check that block 0 is this access method's meta page, of a version this
/// build reads, for the metric the opclass says.
fn check_meta_page(index: crate::am::storage::Index, am: &str, kind: IndexKind) {
    use ruvector_core::hnsw::tuple::{Meta, META_MAGIC, META_VERSION};
    use ruvector_core::ivf::tuple::{IvfMeta, IVF_MAGIC, IVF_VERSION, IVF_VERSION_COPIES, IVF_VERSION_SQ8};
    let (magic, mut version, metric, want_magic, want_version) = if am == "hnsw" {
        let m: Meta = index.meta();
        (m.magic, m.version, m.metric, META_MAGIC, META_VERSION)
    } else {
        let m: IvfMeta = index.meta();
        (m.magic, m.version, m.metric, IVF_MAGIC, IVF_VERSION)
    };
    // ivfflat reads three row formats (SQ8 rows only for the kinds that have
    // them, full copies beside them only for `ruvector` and `halfvec`)
    if am != "hnsw" && version == IVF_VERSION_SQ8 && crate::am::ivfflat::sq8_rows(kind) {
        version = IVF_VERSION;
    }
    if am != "hnsw" && version == IVF_VERSION_COPIES && crate::am::ivfflat::full_copies(kind) {
        version = IVF_VERSION;
    }
    let problem = if magic != want_magic {
        format!("its meta page has magic {magic:#x}, not {want_magic:#x}")
    } else if version != want_version {
        format!("its meta page has version {version}; this build reads version {want_version} (REINDEX it)")
    } else if metric != metric_code(kind.measure) {
        format!(
            "it was built for metric {metric}, but its operator class measures with metric {}",
            metric_code(kind.measure)
        )
    } else {
        return;
    };
    crate::error::raise_code(
        PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
        format!("{am} index \"{}\" is not valid: {problem}", index.name()),
    );
}

/// The type and typmod of an index's vector column.
pub fn key_column(index: pg_sys::Relation) -> (pg_sys::Oid, i32) {
    let at = index_columns(index).vector;
    // SAFETY: an open index of ours has a tuple descriptor with its key columns.
    let att = unsafe { &(*(*index).rd_att).attrs.as_slice(at + 1)[at] };
    (att.atttypid, att.atttypmod)
}

/// The element type of an index's column, if it is one of ours (for the
/// cost model, which must not raise).
pub fn column_elem(index: pg_sys::Relation) -> Option<Elem> {
    elem_of_type(key_column(index).0).ok().map(|(elem, _)| elem)
}

/// The element type and metric of an index: the column type says the former,
/// the opclass's support functions the latter (1: the distance, 2: present for
/// cosine, as in pgvector's opclasses).
fn kind_from_catalogue(index: pg_sys::Relation, am: &str) -> IndexKind {
    let typid = key_column(index).0;
    // pgvector's message (its SQLSTATE too: a plain ERROR, XX000)
    let (elem, prefix) = elem_of_type(typid).unwrap_or_else(|_| {
        crate::error::raise_code(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, format!("type not supported for {am} index"))
    });
    let name = proc_name(index, 1).unwrap_or_default();
    let cosine = proc_name(index, 2).is_some();
    let measure = match (elem, name.strip_prefix(prefix).unwrap_or(&name)) {
        (Elem::Bit, "hamming_distance") => Measure::Hamming,
        (Elem::Bit, "jaccard_distance") => Measure::Jaccard,
        (Elem::F32 | Elem::F16, "_l2_squared_distance") => Measure::Dense(Metric::L2),
        (Elem::F32 | Elem::F16, "_negative_inner_product") if cosine => Measure::Dense(Metric::Cosine),
        (Elem::F32 | Elem::F16, "_negative_inner_product") => Measure::Dense(Metric::InnerProduct),
        (Elem::F32 | Elem::F16, _) if name == "l1_distance" => Measure::Dense(Metric::L1),
        (Elem::Sparse, "_l2_squared_distance") => Measure::Sparse(Metric::L2),
        (Elem::Sparse, "_negative_inner_product") if cosine => Measure::Sparse(Metric::Cosine),
        (Elem::Sparse, "_negative_inner_product") => Measure::Sparse(Metric::InnerProduct),
        (Elem::Sparse, _) if name == "l1_distance" => Measure::Sparse(Metric::L1),
        _ => crate::error::raise_code(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("unsupported distance function for {am}: {name}"),
        ),
    };
    IndexKind { measure, elem }
}

/// The vector in a datum of the index's column type.
///
/// # Safety
/// `value` must be a non-null datum of the type `kind.elem` stands for.
pub unsafe fn read_row(kind: IndexKind, value: pg_sys::Datum) -> Option<Row> {
    unsafe {
        match kind.elem {
            Elem::F32 => DenseArg::<f32>::from_polymorphic_datum(value, false, pg_sys::InvalidOid).map(|a| {
                let dense = a.as_slice().to_vec();
                Row { dims: dense.len(), raw: bytemuck::cast_slice(&dense).to_vec(), dense }
            }),
            Elem::F16 => DenseArg::<half::f16>::from_polymorphic_datum(value, false, pg_sys::InvalidOid).map(|a| {
                let h = a.as_slice();
                Row {
                    dims: h.len(),
                    raw: bytemuck::cast_slice(h).to_vec(),
                    dense: h.iter().map(|x| x.to_f32()).collect(),
                }
            }),
            Elem::Bit => BitArg::from_polymorphic_datum(value, false, pg_sys::InvalidOid).map(|b| Row {
                dims: b.bits,
                raw: b.bytes.to_vec(),
                dense: Vec::new(),
            }),
            Elem::Sparse => SparseArg::from_polymorphic_datum(value, false, pg_sys::InvalidOid).map(|s| Row {
                dims: s.get().dim as usize,
                raw: bytemuck::cast_slice(&ruvector_core::sparse::pairs_of(s.get())).to_vec(),
                dense: Vec::new(),
            }),
        }
    }
}

/// A row of `got` elements where the index holds `expected` (the core's
/// typmod check and message: "expected N dimensions, not M").
pub fn check_row_dims(expected: usize, got: usize) {
    if let Err(e) = ruvector_core::dense::check_expected_dims(expected as i32, got) {
        crate::error::raise(e);
    }
}

/// A query of `query` elements against an index of `index` elements
/// ("different vector dimensions N and M", the core's message).
pub fn check_query_dims(index: usize, query: usize) {
    if let Err(e) = ruvector_core::dense::check_same_dims::<f32>(index, query) {
        crate::error::raise(e);
    }
}

/// Where an index's key columns are (0-based): its vector column, and the
/// filter column with its type when it has one (`CREATE INDEX ... USING
/// hnsw (embedding vector_l2_ops, column)`, or with the filter column first,
/// which PostgreSQL 15 and 16 need to use `IN` lists as index conditions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexColumns {
    pub vector: usize,
    pub filter: Option<(usize, pg_sys::Oid)>,
}

/// The types a filter column may have: those with a filter opclass
/// (sql/types.sql), domains over them included.
fn filter_type(typid: pg_sys::Oid) -> Option<pg_sys::Oid> {
    const TYPES: [pg_sys::Oid; 6] = [
        pg_sys::INT2OID,
        pg_sys::INT4OID,
        pg_sys::INT8OID,
        pg_sys::DATEOID,
        pg_sys::TIMESTAMPOID,
        pg_sys::TIMESTAMPTZOID,
    ];
    if TYPES.contains(&typid) {
        return Some(typid);
    }
    // SAFETY: a catalogue lookup of an existing type.
    let base = unsafe { pg_sys::getBaseType(typid) };
    TYPES.contains(&base).then_some(base)
}

/// The index's columns: one vector column and at most one filter column
/// (more are refused: PostgreSQL only offers the filter opclasses for the
/// types `filter_type` names, so this guards against catalogue changes).
pub fn index_columns(index: pg_sys::Relation) -> IndexColumns {
    // SAFETY: an open index's tuple descriptor and key-column count.
    let (keys, types) = unsafe {
        let keys = (*(*index).rd_index).indnkeyatts.max(1) as usize;
        let attrs = (*(*index).rd_att).attrs.as_slice(keys.min(2));
        (keys, [attrs[0].atttypid, attrs.get(1).map_or(pg_sys::InvalidOid, |a| a.atttypid)])
    };
    if keys > 2 {
        crate::error::raise_code(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "an hnsw index has one vector column and at most one filter column",
        );
    }
    if keys == 1 {
        return IndexColumns { vector: 0, filter: None };
    }
    if let Some(t) = filter_type(types[0]) {
        return IndexColumns { vector: 1, filter: Some((0, t)) };
    }
    match filter_type(types[1]) {
        Some(t) => IndexColumns { vector: 0, filter: Some((1, t)) },
        None => crate::error::raise_code(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "an hnsw index's filter column must be smallint, integer, bigint, date, timestamp or timestamptz",
        ),
    }
}

/// The type of an index's filter column, if it has one.
pub fn filter_column(index: pg_sys::Relation) -> Option<pg_sys::Oid> {
    index_columns(index).filter.map(|(_, t)| t)
}

/// A non-NULL datum of a filter column of type `typid` as the 64-bit key
/// the index stores (the types' own order: dates are days, timestamps
/// microseconds).
pub fn filter_value(typid: pg_sys::Oid, value: pg_sys::Datum) -> i64 {
    match typid {
        pg_sys::INT2OID => value.value() as i16 as i64,
        pg_sys::INT4OID | pg_sys::DATEOID => value.value() as i32 as i64,
        pg_sys::INT8OID | pg_sys::TIMESTAMPOID | pg_sys::TIMESTAMPTZOID => value.value() as i64,
        other => crate::error::raise_code(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("an hnsw filter condition cannot compare with a value of type {}", other.to_u32()),
        ),
    }
}

/// A row's vector datum (None: NULL) and filter key, from the `values`
/// and `isnull` arrays PostgreSQL passes a build callback or `aminsert`.
///
/// # Safety
/// The arrays hold the key columns of an index with columns `columns`.
pub unsafe fn row_columns(
    columns: IndexColumns,
    values: *const pg_sys::Datum,
    isnull: *const bool,
) -> (Option<pg_sys::Datum>, ruvector_core::index::FilterKey) {
    use ruvector_core::index::FilterKey;
    unsafe {
        let vector = (!*isnull.add(columns.vector)).then(|| *values.add(columns.vector));
        let key = match columns.filter {
            None => FilterKey::Absent,
            Some((at, _)) if *isnull.add(at) => FilterKey::Null,
            Some((at, t)) => FilterKey::Value(filter_value(t, *values.add(at))),
        };
        (vector, key)
    }
}
