//! `ruvector_from_bytes(bytea)` / `ruvector_to_bytes(ruvector)`: a vector as
//! a bare little-endian float4 buffer (what numpy's `tobytes()` gives on
//! every common machine), 4 bytes per element, no header. On a little-endian
//! machine both directions are one copy; elements are then checked finite,
//! as the other inputs check them.

#![forbid(unsafe_code)]

use super::{check_dims, check_element};
use crate::error::{ErrorKind, Result, VectorError};

/// The dimensions a buffer of `len` bytes holds, checked.
pub fn dims_of(len: usize) -> Result<usize> {
    if !len.is_multiple_of(4) {
        return Err(VectorError::new(
            ErrorKind::InvalidParameterValue,
            format!("bytea of {len} bytes is not a whole number of float4 elements (4 bytes each)"),
        ));
    }
    check_dims::<f32>(len / 4)?;
    Ok(len / 4)
}

/// Decode `bytes` (as long as `out` × 4) into `out`.
pub fn decode(bytes: &[u8], out: &mut [f32]) -> Result<()> {
    let dst: &mut [u8] = bytemuck::cast_slice_mut(out);
    dst.copy_from_slice(bytes);
    if cfg!(target_endian = "big") {
        out.iter_mut().for_each(|x| *x = f32::from_bits(x.to_bits().swap_bytes()));
    }
    if out.iter().any(|x| !x.is_finite()) {
        out.iter().try_for_each(|&x| check_element(x))?;
    }
    Ok(())
}

/// Encode `v` into `out` (`v.len()` × 4 bytes).
pub fn encode(v: &[f32], out: &mut [u8]) {
    out.copy_from_slice(bytemuck::cast_slice(v));
    if cfg!(target_endian = "big") {
        out.chunks_exact_mut(4).for_each(|c| c.reverse());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_little_endian_order() {
        let v = [1.5f32, -0.0, 3.25e-7, f32::MAX];
        let mut bytes = vec![0u8; 16];
        encode(&v, &mut bytes);
        assert_eq!(&bytes[0..4], &1.5f32.to_le_bytes());
        assert_eq!(&bytes[12..16], &f32::MAX.to_le_bytes());
        assert_eq!(dims_of(bytes.len()), Ok(4));
        let mut back = [0f32; 4];
        decode(&bytes, &mut back).unwrap();
        assert_eq!(back.map(f32::to_bits), v.map(f32::to_bits));
    }

    #[test]
    fn rejects_what_no_vector_is() {
        assert_eq!(dims_of(6).unwrap_err().kind, ErrorKind::InvalidParameterValue);
        assert_eq!(dims_of(0).unwrap_err().message, "vector must have at least 1 dimension");
        assert_eq!(dims_of(16001 * 4).unwrap_err().kind, ErrorKind::ProgramLimitExceeded);
        assert_eq!(dims_of(16000 * 4), Ok(16000));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut out = [0f32; 2];
            let bytes = [1f32.to_le_bytes(), bad.to_le_bytes()].concat();
            let err = decode(&bytes, &mut out).unwrap_err();
            assert_eq!(err.kind, ErrorKind::DataException, "{bad}");
        }
    }
}
