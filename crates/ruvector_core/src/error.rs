//! Errors of the core, each tagged with the PostgreSQL error class it belongs to.
//!
//! The messages follow pgvector's wording (with the type's own name), because
//! users grep logs and client code matches on them.

#![forbid(unsafe_code)]

use std::fmt;

/// Which SQLSTATE an error maps to. The names are PostgreSQL's `ERRCODE_*` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// 22P02 invalid_text_representation
    InvalidTextRepresentation,
    /// 22000 data_exception
    DataException,
    /// 22003 numeric_value_out_of_range
    NumericValueOutOfRange,
    /// 54000 program_limit_exceeded
    ProgramLimitExceeded,
    /// 22023 invalid_parameter_value
    InvalidParameterValue,
    /// 22004 null_value_not_allowed
    NullValueNotAllowed,
    /// 08P01 protocol_violation (a binary message that ends too early)
    ProtocolViolation,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VectorError {
    pub kind: ErrorKind,
    pub message: String,
    pub detail: Option<String>,
}

impl VectorError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        VectorError { kind, message: message.into(), detail: None }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

impl fmt::Display for VectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Some(d) => write!(f, "{} ({})", self.message, d),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for VectorError {}

pub type Result<T> = std::result::Result<T, VectorError>;

/// pgvector's error for a NaN or infinite element of a `noun` ("vector", "halfvec", …).
pub fn check_finite(x: f32, noun: &str) -> Result<()> {
    if x.is_nan() {
        return Err(VectorError::new(ErrorKind::DataException, format!("NaN not allowed in {noun}")));
    }
    if x.is_infinite() {
        return Err(VectorError::new(ErrorKind::DataException, format!("infinite value not allowed in {noun}")));
    }
    Ok(())
}

/// Validate a type-modifier list (`ruvector(3)`, `sparsevec(1000)`): exactly
/// one value in 1..=max_dims, with pgvector's messages.
pub fn typmod_from_list(mods: &[i32], type_name: &str, max_dims: i64) -> Result<i32> {
    if mods.len() != 1 {
        return Err(VectorError::new(ErrorKind::InvalidParameterValue, "invalid type modifier"));
    }
    let n = mods[0];
    if n < 1 {
        return Err(VectorError::new(
            ErrorKind::InvalidParameterValue,
            format!("dimensions for type {type_name} must be at least 1"),
        ));
    }
    if n as i64 > max_dims {
        return Err(VectorError::new(
            ErrorKind::InvalidParameterValue,
            format!("dimensions for type {type_name} cannot exceed {max_dims}"),
        ));
    }
    Ok(n)
}
