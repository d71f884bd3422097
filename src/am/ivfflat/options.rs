//! Index options (`WITH (lists = 100)`) and the `ivfflat.*` settings, with
//! pgvector's names, defaults, ranges and errors; and one option of ours,
//! `exact_copies` (docs/ivfflat.md, format 3).

use std::sync::atomic::{AtomicU32, Ordering};

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting, PostgresGucEnum};

pub const DEFAULT_LISTS: i32 = 100;
pub const MAX_LISTS: i32 = 32768;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PostgresGucEnum)]
pub enum IterativeScan {
    #[name = c"off"]
    Off,
    #[name = c"relaxed_order"]
    RelaxedOrder,
}

pub static PROBES: GucSetting<i32> = GucSetting::<i32>::new(1);
pub static ITERATIVE_SCAN: GucSetting<IterativeScan> = GucSetting::<IterativeScan>::new(IterativeScan::Off);
pub static MAX_PROBES: GucSetting<i32> = GucSetting::<i32>::new(MAX_LISTS);

/// The reloptions as PostgreSQL's build_reloptions lays them out.
#[repr(C)]
pub struct IvfflatOptions {
    vl_len_: i32,
    pub lists: i32,
    /// Ours: keep a full copy of each SQ8 row (format 3, docs/ivfflat.md).
    pub exact_copies: bool,
}

static RELOPT_KIND: AtomicU32 = AtomicU32::new(0);

/// Register the settings and reloptions; called once from `_PG_init`.
pub fn init() {
    GucRegistry::define_int_guc(
        c"ivfflat.probes",
        c"Sets the number of probes",
        c"Valid range is 1..lists.",
        &PROBES,
        1,
        MAX_LISTS,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"ivfflat.iterative_scan",
        c"Sets the mode for iterative scans",
        c"off or relaxed_order",
        &ITERATIVE_SCAN,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"ivfflat.max_probes",
        c"Sets the max number of probes for iterative scans",
        c"",
        &MAX_PROBES,
        1,
        MAX_LISTS,
        GucContext::Userset,
        GucFlags::default(),
    );
    // SAFETY: called once in _PG_init, before any index uses the kind.
    unsafe {
        let kind = pg_sys::add_reloption_kind();
        RELOPT_KIND.store(kind, Ordering::Relaxed);
        pg_sys::add_int_reloption(
            kind,
            c"lists".as_ptr(),
            c"Number of inverted lists".as_ptr(),
            DEFAULT_LISTS,
            1,
            MAX_LISTS,
            pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE,
        );
        pg_sys::add_bool_reloption(
            kind,
            c"exact_copies".as_ptr(),
            c"Keep a full copy of each row beside its SQ8 copy, so scans need no recheck".as_ptr(),
            false,
            pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE,
        );
    }
}

/// `amoptions`: parse and validate the WITH (...) list.
#[pg_guard]
pub unsafe extern "C-unwind" fn amoptions(reloptions: pg_sys::Datum, validate: bool) -> *mut pg_sys::bytea {
    let table = [
        pg_sys::relopt_parse_elt {
            optname: c"lists".as_ptr(),
            opttype: pg_sys::relopt_type::RELOPT_TYPE_INT,
            offset: core::mem::offset_of!(IvfflatOptions, lists) as i32,
        },
        pg_sys::relopt_parse_elt {
            optname: c"exact_copies".as_ptr(),
            opttype: pg_sys::relopt_type::RELOPT_TYPE_BOOL,
            offset: core::mem::offset_of!(IvfflatOptions, exact_copies) as i32,
        },
    ];
    // SAFETY: build_reloptions reads `table` and allocates the struct.
    unsafe {
        pg_sys::build_reloptions(
            reloptions,
            validate,
            RELOPT_KIND.load(Ordering::Relaxed),
            core::mem::size_of::<IvfflatOptions>(),
            table.as_ptr(),
            table.len() as i32,
        ) as *mut pg_sys::bytea
    }
}

/// The `lists` option of an index, or the default.
pub fn lists_of(index: pg_sys::Relation) -> usize {
    // SAFETY: rd_options is NULL or the struct amoptions built.
    unsafe {
        let opts = (*index).rd_options as *const IvfflatOptions;
        if opts.is_null() {
            DEFAULT_LISTS as usize
        } else {
            (*opts).lists as usize
        }
    }
}

/// The `exact_copies` option of an index (false by default).
pub fn exact_copies_of(index: pg_sys::Relation) -> bool {
    // SAFETY: rd_options is NULL or the struct amoptions built.
    unsafe {
        let opts = (*index).rd_options as *const IvfflatOptions;
        !opts.is_null() && (*opts).exact_copies
    }
}
