//! Turning core errors into PostgreSQL `ERROR`s with the right SQLSTATE.
//!
//! `ErrorReport::report(ERROR)` unwinds to the pgrx guard of the calling
//! function, which hands the error to PostgreSQL's `ereport`, so no Rust
//! panic ever crosses the FFI boundary.

#![forbid(unsafe_code)]

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};
use ruvector_core::{ErrorKind, VectorError};

fn sqlstate(kind: ErrorKind) -> PgSqlErrorCode {
    match kind {
        ErrorKind::InvalidTextRepresentation => PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
        ErrorKind::DataException => PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
        ErrorKind::NumericValueOutOfRange => PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
        ErrorKind::ProgramLimitExceeded => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        ErrorKind::InvalidParameterValue => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        ErrorKind::NullValueNotAllowed => PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
        ErrorKind::ProtocolViolation => PgSqlErrorCode::ERRCODE_PROTOCOL_VIOLATION,
    }
}

/// Raise `e` as a PostgreSQL ERROR. Never returns.
pub fn raise(e: VectorError) -> ! {
    let mut report = ErrorReport::new(sqlstate(e.kind), e.message, "ruvector_pg");
    if let Some(detail) = e.detail {
        report = report.set_detail(detail);
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}

/// `result.or_raise()`: the value, or a PostgreSQL ERROR.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for Result<T, VectorError> {
    #[inline]
    fn or_raise(self) -> T {
        match self {
            Ok(v) => v,
            Err(e) => raise(e),
        }
    }
}

/// Raise an error of the given kind and message.
pub fn raise_kind(kind: ErrorKind, message: impl Into<String>) -> ! {
    raise(VectorError::new(kind, message))
}

/// Raise an ERROR with a PostgreSQL error code that has no core `ErrorKind`
/// (conditions only the extension layer detects, e.g. feature_not_supported).
pub fn raise_code(code: PgSqlErrorCode, message: impl Into<String>) -> ! {
    ErrorReport::new(code, message.into(), "ruvector_pg").report(PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}
