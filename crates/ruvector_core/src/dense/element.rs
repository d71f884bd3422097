//! What distinguishes the dense vector types: their element (f32 for
//! `ruvector`, IEEE binary16 for `halfvec`), their SQL name, and the word
//! pgvector's messages use for them.

#![forbid(unsafe_code)]

use crate::error::{ErrorKind, Result, VectorError};
use crate::kernels::KernelElement;
use half::f16;

pub trait DenseElement: KernelElement + bytemuck::Pod + PartialEq + std::fmt::Debug {
    /// The SQL type name, used in "invalid input syntax for type …" messages.
    const SQL_NAME: &'static str;
    /// pgvector's word for the type in other messages ("vector", "halfvec").
    const NOUN: &'static str;
    /// Bytes per element in the binary wire format.
    const WIRE_BYTES: usize;

    /// Round to this type (round-to-nearest-even); a finite value beyond the
    /// type's range becomes infinite.
    fn from_f32_unchecked(x: f32) -> Self;

    fn is_nan(self) -> bool;
    fn is_infinite(self) -> bool;

    fn write_be(self, out: &mut [u8]);
    fn read_be(bytes: &[u8]) -> Self;

    /// Round to this type; a finite value beyond its range is an error
    /// (`"70000" is out of range for type halfvec`), as pgvector reports it.
    fn from_f32(x: f32) -> Result<Self> {
        let e = Self::from_f32_unchecked(x);
        if e.is_infinite() && x.is_finite() {
            let mut text = Vec::new();
            super::text::push_float4(&mut text, x, &mut ryu::Buffer::new());
            return Err(VectorError::new(
                ErrorKind::NumericValueOutOfRange,
                format!("\"{}\" is out of range for type {}", String::from_utf8_lossy(&text), Self::SQL_NAME),
            ));
        }
        Ok(e)
    }
}

impl DenseElement for f32 {
    const SQL_NAME: &'static str = "ruvector";
    const NOUN: &'static str = "vector";
    const WIRE_BYTES: usize = 4;

    #[inline]
    fn from_f32_unchecked(x: f32) -> f32 {
        x
    }
    #[inline]
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    #[inline]
    fn is_infinite(self) -> bool {
        f32::is_infinite(self)
    }
    fn write_be(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_be_bytes());
    }
    fn read_be(b: &[u8]) -> f32 {
        f32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
}

impl DenseElement for f16 {
    const SQL_NAME: &'static str = "halfvec";
    const NOUN: &'static str = "halfvec";
    const WIRE_BYTES: usize = 2;

    #[inline]
    fn from_f32_unchecked(x: f32) -> f16 {
        f16::from_f32(x)
    }
    #[inline]
    fn is_nan(self) -> bool {
        f16::is_nan(self)
    }
    #[inline]
    fn is_infinite(self) -> bool {
        f16::is_infinite(self)
    }
    fn write_be(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_bits().to_be_bytes());
    }
    fn read_be(b: &[u8]) -> f16 {
        f16::from_bits(u16::from_be_bytes([b[0], b[1]]))
    }
}
