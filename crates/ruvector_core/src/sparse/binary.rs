//! Binary wire format of `sparsevec`, identical to pgvector's: `int32 dim`,
//! `int32 nnz`, `int32 0`, `nnz × int32` 0-based indices, `nnz × float4`
//! values, all big-endian.

#![forbid(unsafe_code)]

use super::{check_dim, check_element, check_indices, check_nnz, SparseRef, SparseVec};
use crate::dense::check_expected_dims;
use crate::error::{ErrorKind, Result, VectorError};

fn short_message() -> VectorError {
    VectorError::new(ErrorKind::ProtocolViolation, "insufficient data left in message")
}

fn be_i32(b: &[u8]) -> i32 {
    i32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

pub const fn wire_size(nnz: usize) -> usize {
    12 + 8 * nnz
}

/// Decode one value from the front of `msg`; returns it and the bytes used.
pub fn decode(msg: &[u8], typmod: i32) -> Result<(SparseVec, usize)> {
    let head = msg.get(..12).ok_or_else(short_message)?;
    let (dim, nnz, unused) = (be_i32(&head[0..4]), be_i32(&head[4..8]), be_i32(&head[8..12]));
    check_dim(dim as i64)?;
    check_nnz(nnz as i64, dim as i64)?;
    check_expected_dims(typmod, dim as usize)?;
    if unused != 0 {
        return Err(VectorError::new(ErrorKind::DataException, format!("expected unused to be 0, not {unused}")));
    }
    let nnz = nnz as usize;
    let body = msg.get(12..wire_size(nnz)).ok_or_else(short_message)?;
    let indices: Vec<i32> = body[..4 * nnz].chunks_exact(4).map(be_i32).collect();
    check_indices(&indices, dim)?;
    let values: Vec<f32> = body[4 * nnz..].chunks_exact(4).map(|c| f32::from_bits(be_i32(c) as u32)).collect();
    for &x in &values {
        check_element(x)?;
        if x == 0.0 {
            return Err(VectorError::new(
                ErrorKind::DataException,
                "binary representation of sparsevec cannot contain zero values",
            ));
        }
    }
    Ok((SparseVec { dim, indices, values }, wire_size(nnz)))
}

pub fn encode_into(v: SparseRef<'_>, out: &mut [u8]) {
    let nnz = v.nnz();
    assert_eq!(out.len(), wire_size(nnz), "caller sizes the output");
    out[0..4].copy_from_slice(&v.dim.to_be_bytes());
    out[4..8].copy_from_slice(&(nnz as i32).to_be_bytes());
    out[8..12].copy_from_slice(&0i32.to_be_bytes());
    for (chunk, i) in out[12..12 + 4 * nnz].chunks_exact_mut(4).zip(v.indices) {
        chunk.copy_from_slice(&i.to_be_bytes());
    }
    for (chunk, x) in out[12 + 4 * nnz..].chunks_exact_mut(4).zip(v.values) {
        chunk.copy_from_slice(&x.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(v: &SparseVec) -> Vec<u8> {
        let mut out = vec![0; wire_size(v.indices.len())];
        encode_into(v.as_ref(), &mut out);
        out
    }

    #[test]
    fn pgvector_wire_bytes() {
        let v = SparseVec { dim: 5, indices: vec![0, 2], values: vec![1.5, -2.0] };
        let bytes = [0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0x3f, 0xc0, 0, 0, 0xc0, 0, 0, 0];
        assert_eq!(encode(&v), bytes);
        assert_eq!(decode(&bytes, 5).unwrap(), (v, bytes.len()));
    }

    #[test]
    fn rejects_bad_messages() {
        let msg = |b: &[u8]| decode(b, -1).unwrap_err().message;
        assert_eq!(msg(&[0, 0, 0, 5]), "insufficient data left in message");
        assert_eq!(msg(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), "sparsevec must have at least 1 dimension");
        assert_eq!(
            msg(&[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]),
            "sparsevec cannot have negative number of elements"
        );
        assert_eq!(msg(&[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0]), "sparsevec cannot have more elements than dimensions");
        assert_eq!(msg(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9]), "expected unused to be 0, not 9");
        assert_eq!(
            msg(&[0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3, 0x3f, 0x80, 0, 0]),
            "sparsevec index out of bounds"
        );
        assert_eq!(
            msg(&[0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]),
            "binary representation of sparsevec cannot contain zero values"
        );
        assert_eq!(
            msg(&[0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 0xc0, 0, 0]),
            "NaN not allowed in sparsevec"
        );
        assert_eq!(msg(&[0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), "insufficient data left in message");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok((v, used)) = decode(&bytes, -1) {
                prop_assert!(used <= bytes.len());
                prop_assert!(check_indices(&v.indices, v.dim).is_ok());
            }
        }
    }
}
