//! Who may look inside an index: the diagnostics (`ruvector_index_check`,
//! `ruvector_index_stats`) show an index's structure, which tells about its
//! table's rows, so only a role that may read the table may call them.
//! Catalogue lookups only; no page access.

use pgrx::pg_sys;
use pgrx::prelude::*;

/// Read the catalogue row `oid` of syscache `cache` as the struct `T`
/// (`Form_pg_class`, `Form_pg_type`, ...) inside `f`; `None` if there is none.
/// The row is released before returning, so `f` copies out what it needs.
///
/// # Safety
/// `T` is the row type of `cache`.
pub unsafe fn with_catalog_row<T, R>(
    cache: pg_sys::SysCacheIdentifier::Type,
    oid: pg_sys::Oid,
    f: impl FnOnce(&T) -> R,
) -> Option<R> {
    // SAFETY: a syscache lookup; GETSTRUCT (data past the tuple header) is a
    // T by the caller's promise; released after `f`.
    unsafe {
        let tuple = pg_sys::SearchSysCache1(cache as i32, pg_sys::Datum::from(oid));
        if tuple.is_null() {
            return None;
        }
        let header = (*tuple).t_data;
        let row = &*((header as *const u8).add((*header).t_hoff as usize) as *const T);
        let r = f(row);
        pg_sys::ReleaseSysCache(tuple);
        Some(r)
    }
}

/// What a diagnostic was pointed at.
pub struct Target {
    /// A partitioned index (no pages of its own).
    pub partitioned: bool,
    /// The access method's name (`hnsw`, `ivfflat`, or another).
    pub am: String,
}

/// Check that `index` is an index (or partitioned index) the current role
/// may read the table of; raise otherwise (42P01 / 42809 / 42501).
pub fn readable_index(index: pg_sys::Oid, caller: &str) -> Target {
    // SAFETY: catalogue lookups of the named relation and its table.
    let (relkind, heap, am) = unsafe {
        let relkind = pg_sys::get_rel_relkind(index) as u8;
        if relkind == 0 {
            crate::error::raise_code(
                PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
                format!("relation with OID {} does not exist", index.to_u32()),
            );
        }
        let heap = if relkind == pg_sys::RELKIND_INDEX || relkind == pg_sys::RELKIND_PARTITIONED_INDEX {
            pg_sys::IndexGetRelation(index, true)
        } else {
            pg_sys::InvalidOid
        };
        let relam =
            with_catalog_row(pg_sys::SysCacheIdentifier::RELOID, index, |c: &pg_sys::FormData_pg_class| c.relam);
        let name = relam.map_or(core::ptr::null_mut(), |am| pg_sys::get_am_name(am));
        let am =
            if name.is_null() { String::new() } else { core::ffi::CStr::from_ptr(name).to_string_lossy().into_owned() };
        (relkind, heap, am)
    };
    if heap == pg_sys::InvalidOid {
        crate::error::raise_code(PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE, format!("{caller} works on indexes"));
    }
    // SAFETY: an ACL check of an existing table for the current user.
    let allowed = unsafe {
        pg_sys::pg_class_aclcheck(heap, pg_sys::GetUserId(), pg_sys::ACL_SELECT as pg_sys::AclMode)
            == pg_sys::AclResult::ACLCHECK_OK
    };
    if !allowed {
        // SAFETY: the table exists (IndexGetRelation found it).
        let name = unsafe { core::ffi::CStr::from_ptr(pg_sys::get_rel_name(heap)).to_string_lossy().into_owned() };
        crate::error::raise_code(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("permission denied for table {name}"),
        );
    }
    Target { partitioned: relkind == pg_sys::RELKIND_PARTITIONED_INDEX, am }
}
