//! Index options (`WITH (m = 16, ef_construction = 64)`) and the `hnsw.*`
//! settings, with pgvector's names, defaults, ranges and errors.

use core::ffi::CStr;
use std::sync::atomic::{AtomicU32, Ordering};

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting, PostgresGucEnum};

pub const DEFAULT_M: i32 = 16;
pub const DEFAULT_EF_CONSTRUCTION: i32 = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PostgresGucEnum)]
pub enum IterativeScan {
    #[name = c"off"]
    Off,
    #[name = c"relaxed_order"]
    RelaxedOrder,
    #[name = c"strict_order"]
    StrictOrder,
}

pub static EF_SEARCH: GucSetting<i32> = GucSetting::<i32>::new(40);
pub static ITERATIVE_SCAN: GucSetting<IterativeScan> = GucSetting::<IterativeScan>::new(IterativeScan::Off);
pub static MAX_SCAN_TUPLES: GucSetting<i32> = GucSetting::<i32>::new(20_000);
pub static SCAN_MEM_MULTIPLIER: GucSetting<f64> = GucSetting::<f64>::new(1.0);
/// kB; see cache.rs.
pub static VECTOR_CACHE_SIZE: GucSetting<i32> = GucSetting::<i32>::new(64 * 1024);

/// The per-backend vector cache's limit in bytes (`hnsw.vector_cache_size`).
pub fn vector_cache_bytes() -> usize {
    VECTOR_CACHE_SIZE.get().max(0) as usize * 1024
}

/// What an iterative scan may hold in memory, in bytes: `work_mem` ×
/// `hnsw.scan_mem_multiplier`.
pub fn scan_mem_limit() -> usize {
    // SAFETY: work_mem is a plain int GUC of this backend, read on its own thread.
    let work_mem_kb = unsafe { pg_sys::work_mem };
    (work_mem_kb as f64 * 1024.0 * SCAN_MEM_MULTIPLIER.get()) as usize
}

/// The reloptions as PostgreSQL's build_reloptions lays them out.
#[repr(C)]
pub struct HnswOptions {
    vl_len_: i32,
    pub m: i32,
    pub ef_construction: i32,
}

static RELOPT_KIND: AtomicU32 = AtomicU32::new(0);

/// Register the settings and reloptions; called once from `_PG_init`.
pub fn init() {
    GucRegistry::define_int_guc(
        c"hnsw.ef_search",
        c"Sets the size of the dynamic candidate list for search",
        c"Valid range is 1..1000.",
        &EF_SEARCH,
        1,
        1000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"hnsw.iterative_scan",
        c"Sets the mode for iterative scans",
        c"off, relaxed_order or strict_order",
        &ITERATIVE_SCAN,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"hnsw.max_scan_tuples",
        c"Sets the max number of tuples to visit for iterative scans",
        c"",
        &MAX_SCAN_TUPLES,
        1,
        i32::MAX,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"hnsw.scan_mem_multiplier",
        c"Sets the multiple of work_mem to use for iterative scans",
        c"",
        &SCAN_MEM_MULTIPLIER,
        1.0,
        1000.0,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"hnsw.vector_cache_size",
        c"Sets the memory each backend may use to cache hnsw element vectors for searches",
        c"0 turns the cache off (and the shared one, hnsw.shared_cache_size, for this session). Not a pgvector setting.",
        &VECTOR_CACHE_SIZE,
        0,
        i32::MAX / 1024,
        GucContext::Userset,
        GucFlags::UNIT_KB,
    );
    // SAFETY: called once in _PG_init, before any index uses the kind.
    unsafe {
        let kind = pg_sys::add_reloption_kind();
        RELOPT_KIND.store(kind, Ordering::Relaxed);
        pg_sys::add_int_reloption(
            kind,
            c"m".as_ptr(),
            c"Max number of connections".as_ptr(),
            DEFAULT_M,
            2,
            100,
            pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE,
        );
        pg_sys::add_int_reloption(
            kind,
            c"ef_construction".as_ptr(),
            c"Size of the dynamic candidate list for construction".as_ptr(),
            DEFAULT_EF_CONSTRUCTION,
            4,
            1000,
            pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE,
        );
    }
}

fn option(name: &'static CStr, offset: usize) -> pg_sys::relopt_parse_elt {
    pg_sys::relopt_parse_elt {
        optname: name.as_ptr(),
        opttype: pg_sys::relopt_type::RELOPT_TYPE_INT,
        offset: offset as i32,
    }
}

/// `amoptions`: parse and validate the WITH (...) list.
#[pg_guard]
pub unsafe extern "C-unwind" fn amoptions(reloptions: pg_sys::Datum, validate: bool) -> *mut pg_sys::bytea {
    let table = [
        option(c"m", core::mem::offset_of!(HnswOptions, m)),
        option(c"ef_construction", core::mem::offset_of!(HnswOptions, ef_construction)),
    ];
    // SAFETY: build_reloptions reads `table` and allocates the struct.
    unsafe {
        pg_sys::build_reloptions(
            reloptions,
            validate,
            RELOPT_KIND.load(Ordering::Relaxed),
            core::mem::size_of::<HnswOptions>(),
            table.as_ptr(),
            table.len() as i32,
        ) as *mut pg_sys::bytea
    }
}

/// (m, ef_construction) as set on the index now, with the defaults where
/// not set. `ALTER INDEX ... SET` may have changed them since the build (the
/// graph keeps the m it was built with, in its meta page), so only a build
/// checks them against each other (`of_index`).
pub fn reloptions(index: pg_sys::Relation) -> (usize, usize) {
    // SAFETY: rd_options is NULL or the struct amoptions built.
    let (m, efc) = unsafe {
        let opts = (*index).rd_options as *const HnswOptions;
        if opts.is_null() {
            (DEFAULT_M, DEFAULT_EF_CONSTRUCTION)
        } else {
            ((*opts).m, (*opts).ef_construction)
        }
    };
    (m.max(2) as usize, efc.max(1) as usize)
}

/// (m, ef_construction) for a build, checked as pgvector checks them.
pub fn of_index(index: pg_sys::Relation) -> (usize, usize) {
    let (m, efc) = reloptions(index);
    if efc < 2 * m {
        crate::error::raise_code(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "ef_construction must be greater than or equal to 2 * m",
        );
    }
    (m, efc)
}
