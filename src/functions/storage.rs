//! `ruvector_storage_info(value)`: how a `ruvector`, `halfvec` or
//! `sparsevec` value is stored (ruvector_core::toast's strategy for it, and
//! what PostgreSQL holds: its size as stored, compressed or not, in the row
//! or out of line), so a DBA can see what TOAST does with their vectors.

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::json;

/// One C function behind three SQL overloads; it reads its argument before
/// detoasting (a column value arrives as stored: compressed or a pointer to
/// the TOAST table) and names the argument's type.
#[pg_extern(sql = "
CREATE FUNCTION ruvector_storage_info(ruvector) RETURNS jsonb
    STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
CREATE FUNCTION ruvector_storage_info(halfvec) RETURNS jsonb
    STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
CREATE FUNCTION ruvector_storage_info(sparsevec) RETURNS jsonb
    STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
")]
fn ruvector_storage_info(fcinfo: pg_sys::FunctionCallInfo) -> JsonB {
    // SAFETY: a strict function's first argument is present and non-null;
    // the argument type comes from the call's expression (or its signature).
    let (datum, type_name) = unsafe {
        let datum = (*(*fcinfo).args.as_ptr()).value;
        let oid = pg_sys::get_fn_expr_argtype((*fcinfo).flinfo, 0);
        let name = std::ffi::CStr::from_ptr(pg_sys::format_type_be(oid)).to_string_lossy().into_owned();
        (datum, name.rsplit('.').next().unwrap_or_default().trim_matches('"').to_string())
    };
    let form = crate::datum::stored_form(datum);
    let storage = crate::datum::vector_storage(datum, &type_name);
    let compressibility =
        if storage.compressibility.is_nan() { serde_json::Value::Null } else { json!(storage.compressibility) };
    JsonB(json!({
        "type": type_name,
        "strategy": storage.strategy.name(),
        "compressibility": compressibility,
        "original_bytes": storage.bytes,
        "stored_bytes": form.stored_bytes,
        "compressed": form.compressed,
        "external": form.external,
    }))
}
