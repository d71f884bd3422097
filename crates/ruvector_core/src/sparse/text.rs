//! Text form of `sparsevec`: `{1:1.5,3:-2}/5` — 1-based indices in any order,
//! zeros dropped, duplicates rejected, then `/dimensions`. Parsing follows
//! pgvector's `sparsevec_in` (strtol for integers, strtof semantics for
//! values, C-locale whitespace anywhere between tokens) with its errors.

#![forbid(unsafe_code)]

use super::{check_dim, check_element, check_indices, SparseRef, SparseVec, MAX_NNZ};
use crate::dense::check_expected_dims;
use crate::error::{ErrorKind, Result, VectorError};

#[inline]
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn skip_space(s: &[u8], mut p: usize) -> usize {
    while p < s.len() && is_space(s[p]) {
        p += 1;
    }
    p
}

fn syntax_error(input: &[u8]) -> VectorError {
    VectorError::new(
        ErrorKind::InvalidTextRepresentation,
        format!("invalid input syntax for type sparsevec: \"{}\"", String::from_utf8_lossy(input)),
    )
}

/// strtol(…, 10): optional sign and decimal digits; saturates like strtol.
/// Returns the value, whether it overflowed, and the bytes used.
fn parse_long(s: &[u8]) -> Option<(i64, bool, usize)> {
    let mut p = 0;
    let neg = match s.first() {
        Some(b'-') => {
            p = 1;
            true
        }
        Some(b'+') => {
            p = 1;
            false
        }
        _ => false,
    };
    let start = p;
    let mut v: i128 = 0;
    while p < s.len() && s[p].is_ascii_digit() {
        v = (v * 10 + (s[p] - b'0') as i128).min(i64::MAX as i128 + 1);
        p += 1;
    }
    if p == start {
        return None;
    }
    let v = if neg { -v } else { v };
    let clamped = v.clamp(i64::MIN as i128, i64::MAX as i128);
    Some((clamped as i64, clamped != v, p))
}

/// Parse a `sparsevec` literal; `typmod` is -1 or the required dimension count.
pub fn parse(input: &[u8], typmod: i32) -> Result<SparseVec> {
    let commas = input.iter().filter(|&&c| c == b',').count();
    if commas + 1 > MAX_NNZ {
        return Err(VectorError::new(
            ErrorKind::ProgramLimitExceeded,
            format!("sparsevec cannot have more than {MAX_NNZ} non-zero elements"),
        ));
    }
    let mut p = skip_space(input, 0);
    if input.get(p) != Some(&b'{') {
        return Err(syntax_error(input).with_detail("Vector contents must start with \"{\"."));
    }
    p = skip_space(input, p + 1);
    let mut elements: Vec<(i32, f32)> = Vec::with_capacity(commas + 1);
    if input.get(p) == Some(&b'}') {
        p += 1;
    } else {
        loop {
            p = skip_space(input, p);
            let (index, overflow, used) = parse_long(&input[p..]).ok_or_else(|| syntax_error(input))?;
            // pgvector's check and message (1-based in text, 0..dim stored)
            if overflow || index < 1 || index > i32::MAX as i64 {
                return Err(VectorError::new(ErrorKind::DataException, "sparsevec index out of bounds"));
            }
            p = skip_space(input, p + used);
            if input.get(p) != Some(&b':') {
                return Err(syntax_error(input));
            }
            p = skip_space(input, p + 1);
            let (value, used) = crate::dense::text::parse_float(&input[p..]).ok_or_else(|| syntax_error(input))?;
            let token = &input[p..p + used];
            let spelled_nonzero =
                token.iter().take_while(|&&c| c != b'e' && c != b'E').any(|&c| (b'1'..=b'9').contains(&c));
            let overflowed = value.is_infinite() && !token.iter().any(|c| matches!(c, b'i' | b'I'));
            if overflowed || (value == 0.0 && spelled_nonzero && !token.starts_with(b"0x")) {
                return Err(VectorError::new(
                    ErrorKind::NumericValueOutOfRange,
                    format!("\"{}\" is out of range for type sparsevec", String::from_utf8_lossy(token)),
                ));
            }
            check_element(value)?;
            if value != 0.0 {
                elements.push(((index - 1) as i32, value));
            }
            p = skip_space(input, p + used);
            match input.get(p) {
                Some(b',') => p += 1,
                Some(b'}') => {
                    p += 1;
                    break;
                }
                _ => return Err(syntax_error(input)),
            }
        }
    }
    p = skip_space(input, p);
    if input.get(p) != Some(&b'/') {
        return Err(syntax_error(input).with_detail("Unexpected end of input."));
    }
    p = skip_space(input, p + 1);
    let (dim, _, used) = parse_long(&input[p..]).ok_or_else(|| syntax_error(input))?;
    p = skip_space(input, p + used);
    if p != input.len() {
        return Err(syntax_error(input).with_detail("Junk after closing."));
    }
    check_dim(dim)?;
    check_expected_dims(typmod, dim as usize)?;
    elements.sort_by_key(|e| e.0);
    let out = SparseVec {
        dim: dim as i32,
        indices: elements.iter().map(|e| e.0).collect(),
        values: elements.iter().map(|e| e.1).collect(),
    };
    check_indices(&out.indices, out.dim)?;
    Ok(out)
}

pub fn format_into(out: &mut Vec<u8>, v: SparseRef<'_>) {
    // each element at its longest: an index of up to 10 digits, ':', a
    // value and ',' (so ryu writes values in place)
    out.reserve(v.nnz() * (12 + crate::dense::text::RYU_F32_MAX) + 16);
    out.push(b'{');
    let mut buf = ryu::Buffer::new();
    for (k, (&i, &x)) in v.indices.iter().zip(v.values).enumerate() {
        if k > 0 {
            out.push(b',');
        }
        out.extend_from_slice(itoa::Buffer::new().format(i as i64 + 1).as_bytes());
        out.push(b':');
        crate::dense::text::push_float4(out, x, &mut buf);
    }
    out.extend_from_slice(b"}/");
    out.extend_from_slice(itoa::Buffer::new().format(v.dim).as_bytes());
}

pub fn format(v: SparseRef<'_>) -> String {
    let mut out = Vec::new();
    format_into(&mut out, v);
    String::from_utf8(out).expect("ASCII only")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_pgvector_literals() {
        let v = parse(b" { 3:-2 , 1:1.5, 2:0 } / 5 ", -1).unwrap();
        assert_eq!(v, SparseVec { dim: 5, indices: vec![0, 2], values: vec![1.5, -2.0] });
        assert_eq!(format(v.as_ref()), "{1:1.5,3:-2}/5");
        assert_eq!(parse(b"{}/3", 3).unwrap().indices.len(), 0);
        assert_eq!(parse(b"{+1:1}/1", -1).unwrap().indices, vec![0]);
    }

    #[test]
    fn rejects_like_pgvector() {
        let cases: &[(&str, ErrorKind, &str)] = &[
            ("[1]", ErrorKind::InvalidTextRepresentation, "invalid input syntax for type sparsevec: \"[1]\""),
            ("{1:1}", ErrorKind::InvalidTextRepresentation, "invalid input syntax for type sparsevec: \"{1:1}\""),
            ("{1:1}/", ErrorKind::InvalidTextRepresentation, "invalid input syntax for type sparsevec: \"{1:1}/\""),
            ("{1:1}/3x", ErrorKind::InvalidTextRepresentation, "invalid input syntax for type sparsevec: \"{1:1}/3x\""),
            ("{1 1}/3", ErrorKind::InvalidTextRepresentation, "invalid input syntax for type sparsevec: \"{1 1}/3\""),
            ("{a:1}/3", ErrorKind::InvalidTextRepresentation, "invalid input syntax for type sparsevec: \"{a:1}/3\""),
            ("{1:}/3", ErrorKind::InvalidTextRepresentation, "invalid input syntax for type sparsevec: \"{1:}/3\""),
            ("{0:1}/3", ErrorKind::DataException, "sparsevec index out of bounds"),
            ("{-1:1}/3", ErrorKind::DataException, "sparsevec index out of bounds"),
            ("{2147483648:1}/3", ErrorKind::DataException, "sparsevec index out of bounds"),
            ("{4:1}/3", ErrorKind::DataException, "sparsevec index out of bounds"),
            ("{1:1,1:2}/3", ErrorKind::DataException, "sparsevec indices must not contain duplicates"),
            ("{1:NaN}/3", ErrorKind::DataException, "NaN not allowed in sparsevec"),
            ("{1:-inf}/3", ErrorKind::DataException, "infinite value not allowed in sparsevec"),
            ("{1:1e39}/3", ErrorKind::NumericValueOutOfRange, "\"1e39\" is out of range for type sparsevec"),
            ("{1:1e-50}/3", ErrorKind::NumericValueOutOfRange, "\"1e-50\" is out of range for type sparsevec"),
            ("{}/0", ErrorKind::DataException, "sparsevec must have at least 1 dimension"),
            ("{}/1000000001", ErrorKind::ProgramLimitExceeded, "sparsevec cannot have more than 1000000000 dimensions"),
        ];
        for (input, kind, msg) in cases {
            let e = parse(input.as_bytes(), -1).unwrap_err();
            assert_eq!((&e.kind, e.message.as_str()), (kind, *msg), "input {input:?}");
        }
        assert_eq!(parse(b"{1:1}/3", 4).unwrap_err().message, "expected 4 dimensions, not 3");
        let many = format!("{{{}}}/20000", (1..=16001).map(|i| format!("{i}:1")).collect::<Vec<_>>().join(","));
        assert_eq!(
            parse(many.as_bytes(), -1).unwrap_err().message,
            "sparsevec cannot have more than 16000 non-zero elements"
        );
    }

    proptest! {
        #[test]
        fn round_trip(m in proptest::collection::btree_map(0i32..1_000_000, any::<f32>().prop_filter("finite non-zero", |x| x.is_finite() && *x != 0.0), 0..50)) {
            let v = SparseVec { dim: 1_000_000, indices: m.keys().copied().collect(), values: m.values().copied().collect() };
            let text = format(v.as_ref());
            prop_assert_eq!(parse(text.as_bytes(), -1).unwrap(), v);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse(&bytes, -1);
        }

        #[test]
        fn mutated_literals_never_panic(
            pos in any::<prop::sample::Index>(),
            byte in prop::sample::select(b"{}:/,.eE+-0123456789 \\x00".to_vec()),
        ) {
            let mut text = b"{1:1.5,30:-2e-3,7:4}/40".to_vec();
            let i = pos.index(text.len());
            text[i] = byte;
            if let Ok(v) = parse(&text, -1) {
                prop_assert!(check_indices(&v.indices, v.dim).is_ok());
                prop_assert!(v.values.iter().all(|x| x.is_finite() && *x != 0.0));
            }
        }
    }
}
