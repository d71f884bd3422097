//! Binary wire format of the dense types, byte-identical to pgvector's
//! `vector` and `halfvec`: `int16 dim`, `int16 0`, then `dim` IEEE-754 float4
//! (or binary16) values, all big-endian. Binary COPY files and pgvector client
//! libraries' encoders therefore work unchanged against our columns.

#![forbid(unsafe_code)]

use super::{check_dims, check_element, check_expected_dims, DenseElement};
use crate::error::{ErrorKind, Result, VectorError};

fn short_message() -> VectorError {
    // PostgreSQL's own wording when a receive function runs past the message.
    VectorError::new(ErrorKind::ProtocolViolation, "insufficient data left in message")
}

/// Bytes the wire form of a `dims`-element vector takes.
pub const fn wire_size<E: DenseElement>(dims: usize) -> usize {
    4 + E::WIRE_BYTES * dims
}

/// Decode one value from the front of `msg`; returns the elements and the bytes used.
/// Trailing bytes are left for the caller (PostgreSQL checks them itself).
pub fn decode<E: DenseElement>(msg: &[u8], typmod: i32) -> Result<(Vec<E>, usize)> {
    let (dims, size) = decode_header::<E>(msg, typmod)?;
    let mut out = vec![E::zeroed(); dims];
    decode_body(&msg[4..size], &mut out)?;
    Ok((out, size))
}

/// The header of a value at the front of `msg`, checked (dimensions, typmod,
/// the unused field, length): its dimensions and the bytes the value takes.
pub fn decode_header<E: DenseElement>(msg: &[u8], typmod: i32) -> Result<(usize, usize)> {
    if msg.len() < 4 {
        return Err(short_message());
    }
    let dims = i16::from_be_bytes([msg[0], msg[1]]);
    let unused = i16::from_be_bytes([msg[2], msg[3]]);
    if dims < 1 {
        check_dims::<E>(0)?;
    }
    let dims = dims as usize;
    check_dims::<E>(dims)?;
    check_expected_dims(typmod, dims)?;
    if unused != 0 {
        return Err(VectorError::new(ErrorKind::DataException, format!("expected unused to be 0, not {unused}")));
    }
    let size = wire_size::<E>(dims);
    if msg.len() < size {
        return Err(short_message());
    }
    Ok((dims, size))
}

/// Decode the big-endian elements of `body` into `out` (as long), straight
/// into the caller's memory: one byte-swapping pass the compiler vectorises,
/// then one check that every element is finite (the first one that is not
/// is reported, as pgvector does).
pub fn decode_body<E: DenseElement>(body: &[u8], out: &mut [E]) -> Result<()> {
    let n = out.len() * E::WIRE_BYTES;
    if E::WIRE_BYTES == std::mem::size_of::<E>() && body.len() >= n {
        // one copy, then a byte swap over the whole buffer, which the
        // compiler turns into vector shuffles (the wire is big-endian)
        bytemuck::cast_slice_mut::<E, u8>(out).copy_from_slice(&body[..n]);
        match E::WIRE_BYTES {
            4 => bytemuck::cast_slice_mut::<E, u32>(out).iter_mut().for_each(|w| *w = u32::from_be(*w)),
            2 => bytemuck::cast_slice_mut::<E, u16>(out).iter_mut().for_each(|w| *w = u16::from_be(*w)),
            _ => unreachable!("dense elements are 2 or 4 bytes"),
        }
    } else {
        for (o, chunk) in out.iter_mut().zip(body.chunks_exact(E::WIRE_BYTES)) {
            *o = E::read_be(chunk);
        }
    }
    if out.iter().any(|x| x.is_nan() || x.is_infinite()) {
        out.iter().try_for_each(|&x| check_element(x))?;
    }
    Ok(())
}

/// Encode `v` into `out`, which must be `wire_size(v.len())` bytes.
pub fn encode_into<E: DenseElement>(v: &[E], out: &mut [u8]) {
    assert_eq!(out.len(), wire_size::<E>(v.len()), "caller sizes the output");
    out[0..2].copy_from_slice(&(v.len() as i16).to_be_bytes());
    out[2..4].copy_from_slice(&0i16.to_be_bytes());
    for (chunk, &x) in out[4..].chunks_exact_mut(E::WIRE_BYTES).zip(v) {
        x.write_be(chunk);
    }
}

pub fn encode<E: DenseElement>(v: &[E]) -> Vec<u8> {
    let mut out = vec![0; wire_size::<E>(v.len())];
    encode_into(v, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pgvector_wire_bytes() {
        // [1, -2] as pgvector sends it, as vector and as halfvec.
        let bytes = [0, 2, 0, 0, 0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0];
        assert_eq!(encode(&[1.0f32, -2.0]), bytes);
        let half = [0, 2, 0, 0, 0x3c, 0x00, 0xc0, 0x00];
        assert_eq!(encode(&[half::f16::ONE, half::f16::from_f32(-2.0)]), half);
        assert_eq!(decode::<half::f16>(&half, 2).unwrap().0, [half::f16::ONE, half::f16::from_f32(-2.0)]);
        assert_eq!(decode::<f32>(&bytes, -1).unwrap(), (vec![1.0, -2.0], 12));
        assert_eq!(decode::<f32>(&bytes, 2).unwrap().0, vec![1.0, -2.0]);
    }

    #[test]
    fn rejects_bad_messages() {
        let msg = |b: &[u8]| decode::<f32>(b, -1).unwrap_err();
        assert_eq!(msg(&[0, 1]).kind, ErrorKind::ProtocolViolation);
        assert_eq!(msg(&[0, 2, 0, 0, 0x3f, 0x80, 0, 0]).kind, ErrorKind::ProtocolViolation);
        assert_eq!(msg(&[0, 0, 0, 0]).message, "vector must have at least 1 dimension");
        assert_eq!(msg(&[0xff, 0xff, 0, 0]).message, "vector must have at least 1 dimension");
        assert_eq!(msg(&[0x3e, 0x81, 0, 0]).message, "vector cannot have more than 16000 dimensions");
        assert_eq!(msg(&[0, 1, 0, 7, 0, 0, 0, 0]).message, "expected unused to be 0, not 7");
        assert_eq!(msg(&[0, 1, 0, 0, 0x7f, 0xc0, 0, 0]).message, "NaN not allowed in vector");
        assert_eq!(msg(&[0, 1, 0, 0, 0x7f, 0x80, 0, 0]).message, "infinite value not allowed in vector");
        assert_eq!(decode::<f32>(&[0, 1, 0, 0, 0, 0, 0, 0], 2).unwrap_err().message, "expected 2 dimensions, not 1");
        assert_eq!(
            decode::<half::f16>(&[0, 1, 0, 0, 0x7c, 0], -1).unwrap_err().message,
            "infinite value not allowed in halfvec"
        );
    }

    proptest! {
        #[test]
        fn round_trip(v in proptest::collection::vec(-1e30f32..1e30, 1..300)) {
            let bytes = encode(&v);
            let (back, used) = decode::<f32>(&bytes, v.len() as i32).unwrap();
            prop_assert_eq!(used, bytes.len());
            prop_assert_eq!(back, v);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok((v, used)) = decode::<f32>(&bytes, -1) {
                prop_assert!(used <= bytes.len());
                prop_assert!(v.iter().all(|x| x.is_finite()));
            }
            if let Ok((v, used)) = decode::<half::f16>(&bytes, -1) {
                prop_assert!(used <= bytes.len());
                prop_assert!(v.iter().all(|x| x.is_finite()));
            }
        }
    }
}
