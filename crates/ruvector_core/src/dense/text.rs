//! Text form of the dense types (`ruvector`, `halfvec`): `[1,2.5,-3e-05]`.
//!
//! Parsing accepts what pgvector accepts (which is what `strtof` accepts per
//! element, between `[`, `,` and `]`, with C-locale whitespace around
//! anything) and rejects what it rejects, with the same SQLSTATEs. It uses the
//! Eisel-Lemire algorithm (`fast-float2`) instead of `strtof`, falling back to
//! `strtof` only for hexadecimal literals, which `fast-float2` does not read;
//! a token of up to seven digits is read as the integer it is.
//!
//! Output is PostgreSQL's `float4out` format: the shortest decimal that reads
//! back to the same float, fixed-point for exponents -4..6, else `d.ddde+XX`
//! (`push_float4`: integers through `itoa`, ryu's own text where its layout
//! is float4out's, the rest re-laid out).
//! `halfvec` elements print as the float4 they widen to, as in pgvector.

use super::{check_dims, check_element, check_expected_dims, DenseElement};
use crate::error::{ErrorKind, Result, VectorError};
use crate::kernels::Scalar;
use crate::layout::MAX_DIM;

#[inline]
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

#[inline]
fn skip_space(s: &[u8], mut p: usize) -> usize {
    while p < s.len() && is_space(s[p]) {
        p += 1;
    }
    p
}

fn syntax_error<E: DenseElement>(input: &[u8]) -> VectorError {
    VectorError::new(
        ErrorKind::InvalidTextRepresentation,
        format!("invalid input syntax for type {}: \"{}\"", E::SQL_NAME, String::from_utf8_lossy(input)),
    )
}

/// Parse one float at the start of `s`: its value and how many bytes it used.
/// `None` when `s` does not start with a number.
#[inline]
pub(crate) fn parse_float(s: &[u8]) -> Option<(f32, usize)> {
    if let Some(small) = parse_small_integer(s) {
        return Some(small);
    }
    match fast_float2::parse_partial::<f32, _>(s) {
        Ok((v, n)) if n > 0 => {
            // "0x1p3": fast-float2 stops after the "0"; strtof reads hex floats.
            if s.get(n).is_some_and(|&c| c == b'x' || c == b'X') {
                return strtof(s);
            }
            Some((v, n))
        }
        _ => None,
    }
}

/// An optional `-` and one to seven digits, not followed by more of a number
/// (a digit, a point, an exponent or a hexadecimal `x`): pixels, counts, int8
/// and uint8 embeddings. Below 2^24, so the float is the integer itself, as
/// strtof reads it. `None` leaves the token to the general parser.
#[inline]
fn parse_small_integer(s: &[u8]) -> Option<(f32, usize)> {
    let negative = s.first() == Some(&b'-');
    let start = negative as usize;
    let mut n = 0u32;
    let mut end = start;
    while end - start < 8 && s.get(end).is_some_and(u8::is_ascii_digit) {
        n = n * 10 + (s[end] - b'0') as u32;
        end += 1;
    }
    let more = s.get(end).is_some_and(|&c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'x' | b'X'));
    if end == start || end - start > 7 || more {
        return None;
    }
    let v = n as f32;
    Some((if negative { -v } else { v }, end))
}

/// libc `strtof` on a bounded, NUL-terminated copy of the token (slow path only).
fn strtof(s: &[u8]) -> Option<(f32, usize)> {
    let len = s.iter().position(|&c| c == b',' || c == b']' || is_space(c) || c == 0).unwrap_or(s.len());
    let mut buf = Vec::with_capacity(len + 1);
    buf.extend_from_slice(&s[..len]);
    buf.push(0);
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: buf is NUL-terminated and outlives the call; strtof writes `end`
    // with a pointer into buf. LC_NUMERIC is "C" in a PostgreSQL backend.
    let v = unsafe { libc::strtof(buf.as_ptr().cast(), &mut end) };
    let used = end as usize - buf.as_ptr() as usize;
    (used > 0).then_some((v, used))
}

/// Parse a literal of the dense type `E`; `typmod` is -1 or the required dimension count.
pub fn parse<E: DenseElement>(input: &[u8], typmod: i32) -> Result<Vec<E>> {
    let mut p = skip_space(input, 0);
    if input.get(p) != Some(&b'[') {
        return Err(syntax_error::<E>(input).with_detail("Vector contents must start with \"[\"."));
    }
    p = skip_space(input, p + 1);
    if input.get(p) == Some(&b']') {
        check_dims::<E>(0)?;
    }
    // A guess at the size that avoids regrowing for typical 6-10 character elements.
    let mut out = Vec::with_capacity(((input.len() - p) / 8 + 1).min(MAX_DIM));
    loop {
        if out.len() == MAX_DIM {
            check_dims::<E>(MAX_DIM + 1)?;
        }
        p = skip_space(input, p);
        if p >= input.len() {
            return Err(syntax_error::<E>(input));
        }
        let (v, used) = parse_float(&input[p..]).ok_or_else(|| syntax_error::<E>(input))?;
        let token = &input[p..p + used];
        let x = E::from_f32_unchecked(v);
        // Out of range: strtof overflowed (infinite, but no "inf" written), or
        // the float does not fit the element type.
        if x.is_infinite() && !token.iter().any(|c| matches!(c, b'i' | b'I')) {
            return Err(VectorError::new(
                ErrorKind::NumericValueOutOfRange,
                format!("\"{}\" is out of range for type {}", String::from_utf8_lossy(token), E::SQL_NAME),
            ));
        }
        check_element(x)?;
        out.push(x);
        p = skip_space(input, p + used);
        match input.get(p) {
            Some(b',') => p += 1,
            Some(b']') => {
                p += 1;
                break;
            }
            _ => return Err(syntax_error::<E>(input)),
        }
    }
    p = skip_space(input, p);
    if p != input.len() {
        return Err(syntax_error::<E>(input).with_detail("Junk after closing right brace."));
    }
    check_dims::<E>(out.len())?;
    check_expected_dims(typmod, out.len())?;
    Ok(out)
}

/// Append the text form of `v` to `out`.
pub fn format_into<E: Scalar>(out: &mut Vec<u8>, v: &[E]) {
    // room for every element at its longest, with its comma (`push_ryu`)
    out.reserve(v.len() * (RYU_F32_MAX + 1) + 2);
    out.push(b'[');
    let mut buf = ryu::Buffer::new();
    for (i, &x) in v.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_float4(out, x.to_f32(), &mut buf);
    }
    out.push(b']');
}

pub fn format<E: Scalar>(v: &[E]) -> String {
    let mut out = Vec::new();
    format_into(&mut out, v);
    String::from_utf8(out).expect("ASCII only")
}

/// Append `x` the way PostgreSQL's float4out prints it (extra_float_digits > 0).
///
/// From 10⁻⁴ to 10⁶ in magnitude (most embedding elements, pixels, counts,
/// int8 and uint8 embeddings) the digits need no re-laying out: an integer
/// is its digits, any other value ryu's text. The rest go through
/// `push_float4_relaid`, which both must agree with (proptest
/// `fast_paths_match_the_relaid_output`).
#[inline(always)]
pub fn push_float4(out: &mut Vec<u8>, x: f32, buf: &mut ryu::Buffer) {
    // From just above 10^-4 to just below 10^6 (NaN fails the test) the
    // shortest digits start at 10^-4 .. 10^5 (they lie within half an ulp
    // of the value), which float4out lays out in fixed point.
    if (1.0001e-4..999_999.0).contains(&x.abs()) {
        let integer = x as i32;
        if x == integer as f32 {
            out.extend_from_slice(itoa::Buffer::new().format(integer).as_bytes());
        } else {
            // ryu's layout for such a value, without ".0" (no integer is
            // within half an ulp of a non-integer)
            push_ryu(out, x, buf);
        }
        return;
    }
    push_float4_relaid(out, x, buf);
}

/// Append ryu's text for the finite `x`: in place when `out` has room for
/// the longest (`format_into` reserves it), which saves a copy per element
/// (a tenth of a `COPY ... TO` of 1,536-d vectors in `perf`).
#[inline]
fn push_ryu(out: &mut Vec<u8>, x: f32, buf: &mut ryu::Buffer) {
    let at = out.len();
    if out.capacity() - at < RYU_F32_MAX {
        out.extend_from_slice(buf.format_finite(x).as_bytes());
        return;
    }
    // SAFETY: `x` is finite, so format32 writes its text, at most
    // RYU_F32_MAX bytes, into the spare capacity just checked, and returns
    // its length; only those bytes become part of `out`.
    unsafe {
        let n = ryu::raw::format32(x, out.as_mut_ptr().add(at));
        out.set_len(at + n);
    }
}

/// The most bytes ryu writes for an f32 ("-1.2345678e-38").
pub(crate) const RYU_F32_MAX: usize = 16;

/// `push_float4` by re-laying out ryu's shortest digits in float4out's format
/// (fixed point for a first digit from 10^-4 to 10^5, else `d.ddde±XX`).
fn push_float4_relaid(out: &mut Vec<u8>, x: f32, buf: &mut ryu::Buffer) {
    if x.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    if x.is_infinite() {
        out.extend_from_slice(if x > 0.0 { b"Infinity" } else { b"-Infinity" });
        return;
    }
    if x == 0.0 {
        out.extend_from_slice(if x.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    // ryu gives the shortest round-trip digits; re-lay them out PostgreSQL's way.
    let s = buf.format_finite(x).as_bytes();
    let (neg, s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exp10) = match s.iter().position(|&c| c == b'e' || c == b'E') {
        Some(e) => {
            let exp: i32 = std::str::from_utf8(&s[e + 1..]).ok().and_then(|t| t.parse().ok()).unwrap_or(0);
            (&s[..e], exp)
        }
        None => (s, 0),
    };
    let mut digits = [0u8; 24];
    let mut nd = 0;
    let mut point = None;
    for &c in mantissa {
        if c == b'.' {
            point = Some(nd);
        } else {
            digits[nd] = c;
            nd += 1;
        }
    }
    let mut point = point.unwrap_or(nd) as i32;
    let mut first = 0;
    while first < nd && digits[first] == b'0' {
        first += 1;
        point -= 1;
    }
    while nd > first && digits[nd - 1] == b'0' {
        nd -= 1;
    }
    let d = &digits[first..nd];
    let exp = point - 1 + exp10; // the power of ten of the first digit
    if neg {
        out.push(b'-');
    }
    if (-4..6).contains(&exp) {
        if exp < 0 {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-exp - 1) as usize));
            out.extend_from_slice(d);
        } else {
            let int_digits = exp as usize + 1;
            if d.len() <= int_digits {
                out.extend_from_slice(d);
                out.extend(std::iter::repeat_n(b'0', int_digits - d.len()));
            } else {
                out.extend_from_slice(&d[..int_digits]);
                out.push(b'.');
                out.extend_from_slice(&d[int_digits..]);
            }
        }
    } else {
        out.push(d[0]);
        if d.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&d[1..]);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(itoa::Buffer::new().format(e).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use half::f16;

    fn p(s: &str) -> Result<Vec<f32>> {
        parse(s.as_bytes(), -1)
    }

    #[test]
    fn halfvec_literals() {
        let v = parse::<f16>(b"[1.5, -2, 65504, 1e-8]", -1).unwrap();
        assert_eq!(v, [1.5f32, -2.0, 65504.0, 0.0].map(f16::from_f32));
        assert_eq!(format(&parse::<f16>(b"[0.1]", -1).unwrap()), "[0.099975586]");
        let e = parse::<f16>(b"[65520]", -1).unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::NumericValueOutOfRange, "\"65520\" is out of range for type halfvec")
        );
        assert_eq!(parse::<f16>(b"[inf]", -1).unwrap_err().message, "infinite value not allowed in halfvec");
        assert_eq!(parse::<f16>(b"[]", -1).unwrap_err().message, "halfvec must have at least 1 dimension");
        assert_eq!(parse::<f16>(b"x", -1).unwrap_err().message, "invalid input syntax for type halfvec: \"x\"");
    }

    #[test]
    fn accepts_pgvector_forms() {
        assert_eq!(p("[1,2,3]").unwrap(), vec![1.0, 2.0, 3.0]);
        assert_eq!(p(" [ 1 , -2.5e1 ,\t+3. ,.5 ] \n").unwrap(), vec![1.0, -25.0, 3.0, 0.5]);
        assert_eq!(p("[1e-50]").unwrap(), vec![0.0]); // underflow reads as zero, like strtof
        assert_eq!(p("[0x10]").unwrap(), vec![16.0]); // hex, like strtof
        assert_eq!(p("[-0]").unwrap()[0].to_bits(), (-0.0f32).to_bits());
        assert_eq!(parse::<f32>(b"[1,2]", 2).unwrap().len(), 2);
    }

    #[test]
    fn rejects_like_pgvector() {
        let cases: &[(&str, ErrorKind, &str)] = &[
            ("", ErrorKind::InvalidTextRepresentation, "invalid input syntax for type ruvector: \"\""),
            ("1,2", ErrorKind::InvalidTextRepresentation, "invalid input syntax for type ruvector: \"1,2\""),
            ("[]", ErrorKind::DataException, "vector must have at least 1 dimension"),
            ("[ ]", ErrorKind::DataException, "vector must have at least 1 dimension"),
            ("[1,]", ErrorKind::InvalidTextRepresentation, "invalid input syntax for type ruvector: \"[1,]\""),
            ("[1", ErrorKind::InvalidTextRepresentation, "invalid input syntax for type ruvector: \"[1\""),
            ("[1 2]", ErrorKind::InvalidTextRepresentation, "invalid input syntax for type ruvector: \"[1 2]\""),
            ("[a]", ErrorKind::InvalidTextRepresentation, "invalid input syntax for type ruvector: \"[a]\""),
            ("[1]x", ErrorKind::InvalidTextRepresentation, "invalid input syntax for type ruvector: \"[1]x\""),
            ("[NaN]", ErrorKind::DataException, "NaN not allowed in vector"),
            ("[Infinity]", ErrorKind::DataException, "infinite value not allowed in vector"),
            ("[-inf]", ErrorKind::DataException, "infinite value not allowed in vector"),
            ("[4e38]", ErrorKind::NumericValueOutOfRange, "\"4e38\" is out of range for type ruvector"),
            ("[-1e39]", ErrorKind::NumericValueOutOfRange, "\"-1e39\" is out of range for type ruvector"),
        ];
        for (input, kind, msg) in cases {
            let e = p(input).unwrap_err();
            assert_eq!((&e.kind, e.message.as_str()), (kind, *msg), "input {input:?}");
        }
        assert_eq!(p("[1]x").unwrap_err().detail.as_deref(), Some("Junk after closing right brace."));
        assert_eq!(p("1").unwrap_err().detail.as_deref(), Some("Vector contents must start with \"[\"."));
        let e = parse::<f32>(b"[1,2]", 3).unwrap_err();
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::DataException, "expected 3 dimensions, not 2"));
    }

    #[test]
    fn dimension_limit() {
        let ok = format!("[{}]", vec!["1"; MAX_DIM].join(","));
        assert_eq!(p(&ok).unwrap().len(), MAX_DIM);
        let over = format!("[{}]", vec!["1"; MAX_DIM + 1].join(","));
        let e = p(&over).unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::ProgramLimitExceeded, "vector cannot have more than 16000 dimensions")
        );
    }

    #[test]
    fn output_matches_float4out() {
        let cases: &[(f32, &str)] = &[
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.0, "0"),
            (-0.0, "-0"),
            (0.1, "0.1"),
            (1e-4, "0.0001"),
            (1.5e-5, "1.5e-05"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (1e6, "1e+06"),
            (100.0, "100"),
            (3.4028235e38, "3.4028235e+38"),
            (1e-45, "1e-45"),
            (0.33333334, "0.33333334"),
        ];
        for &(x, want) in cases {
            let mut out = Vec::new();
            push_float4(&mut out, x, &mut ryu::Buffer::new());
            assert_eq!(std::str::from_utf8(&out).unwrap(), want, "value {x:e}");
        }
        assert_eq!(format(&[1.0f32, 2.5, -3e-5]), "[1,2.5,-3e-05]");
    }

    fn printed(x: f32, f: fn(&mut Vec<u8>, f32, &mut ryu::Buffer)) -> String {
        let mut out = Vec::new();
        f(&mut out, x, &mut ryu::Buffer::new());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn fast_paths_match_the_relaid_output_at_every_boundary() {
        // integers around 10^6 and 2^24, fixed point's ends (10^-4, 10^6),
        // and their float neighbours on both sides
        let mut xs = vec![0.0f32, -0.0, 1.0, 255.0, 999_999.0, 1e6, 16_777_216.0, 1e-4, 9.9999e-5, 1e-5, 0.5];
        xs.extend([f32::MIN_POSITIVE, f32::MAX, f32::EPSILON, f32::NAN, f32::INFINITY, f32::NEG_INFINITY]);
        for x in xs.clone() {
            let (mut lo, mut hi) = (x, x);
            for _ in 0..64 {
                lo = lo.next_down();
                hi = hi.next_up();
                xs.extend([lo, hi]);
            }
        }
        xs.extend((-70_000..70_000).map(|i| i as f32));
        xs.extend((0..20_000).map(|i| 999_000.0 + i as f32 / 8.0));
        for x in xs.iter().flat_map(|&x| [x, -x]) {
            assert_eq!(printed(x, push_float4), printed(x, push_float4_relaid), "value {x:e} ({:#x})", x.to_bits());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn fast_paths_match_the_relaid_output(bits in any::<u32>(), scale in -50i32..50, m in -1.0f32..1.0) {
            // any bit pattern, and decimal magnitudes across the fixed range
            for x in [f32::from_bits(bits), m * 10f32.powi(scale), (m * 300.0).round()] {
                prop_assert_eq!(printed(x, push_float4), printed(x, push_float4_relaid), "value {:e}", x);
            }
        }
    }

    /// A token grammar covering what strtof reads: signs, digits, points, exponents.
    fn number_token() -> impl Strategy<Value = String> {
        (
            prop::sample::select(vec!["", "+", "-"]),
            "[0-9]{0,12}",
            prop::option::of("[0-9]{0,12}"),
            prop::option::of((
                prop::sample::select(vec!["e", "E"]),
                prop::sample::select(vec!["", "+", "-"]),
                "[0-9]{1,3}",
            )),
        )
            .prop_map(|(s, i, f, e)| {
                let mut t = format!("{s}{i}");
                if let Some(f) = f {
                    t.push('.');
                    t.push_str(&f);
                }
                if let Some((e, es, ed)) = e {
                    t.push_str(e);
                    t.push_str(es);
                    t.push_str(&ed);
                }
                t
            })
    }

    proptest! {
        // 4,000 cases by default; PROPTEST_CASES=1000000 for a long fuzzing run.
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(4000)
        ))]

        /// Every finite float prints and reads back bit-identically.
        #[test]
        fn round_trip(bits in any::<u32>()) {
            // Non-finite bit patterns (exponent all ones) become the largest finite exponent.
            let x = f32::from_bits(if (bits >> 23) & 0xff == 0xff { bits & !(1 << 23) } else { bits });
            prop_assert!(x.is_finite());
            let text = format(&[x]);
            let back = p(&text).unwrap();
        // and every finite binary16 reads back from its text too
        let h = f16::from_bits(bits as u16);
        if h.is_finite() {
            let ht = format(&[h]);
            prop_assert_eq!(parse::<f16>(ht.as_bytes(), -1).unwrap()[0].to_bits(), h.to_bits(), "{}", ht);
        }
            prop_assert_eq!(back[0].to_bits(), x.to_bits(), "{}", text);
        }

        /// Each element is read exactly as strtof reads it (pgvector's parser).
        #[test]
        fn elements_agree_with_strtof(tok in number_token()) {
            let ours = parse_float(tok.as_bytes());
            let theirs = strtof(tok.as_bytes());
            match (ours, theirs) {
                (Some((a, n)), Some((b, m))) => {
                    prop_assert_eq!(n, m, "length for {}", tok);
                    prop_assert_eq!(a.to_bits(), b.to_bits(), "value for {}", tok);
                }
                (None, None) => {}
                (a, b) => prop_assert!(false, "{}: ours {:?}, strtof {:?}", tok, a, b),
            }
        }

        /// Integer tokens, the small-integer path's, with what may follow them.
        #[test]
        fn integers_agree_with_strtof(
            sign in prop::sample::select(vec!["", "-", "+"]),
            digits in "[0-9]{1,9}",
            rest in prop::sample::select(vec!["", ",", "]", " 1", ".5", ".", "e3", "E-2", "x1", "_", "i"]),
        ) {
            let tok = format!("{sign}{digits}{rest}");
            let ours = parse_float(tok.as_bytes()).map(|(v, n)| (v.to_bits(), n));
            let theirs = strtof(tok.as_bytes()).map(|(v, n)| (v.to_bits(), n));
            prop_assert_eq!(ours, theirs, "{}", tok);
        }

        /// Random bytes never panic; they either parse or give a typed error.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse::<f32>(&bytes, -1);
            let _ = parse::<f16>(&bytes, -1);
        }

        /// Mutated valid literals never panic either (closer to the interesting edges).
        #[test]
        fn mutated_literals_never_panic(
            v in proptest::collection::vec(-1e6f32..1e6, 1..16),
            pos in any::<prop::sample::Index>(),
            byte in prop::sample::select(b"[],.eE+-0123456789 \t\x00xinfa".to_vec()),
        ) {
            let mut text = format(&v).into_bytes();
            let i = pos.index(text.len());
            text[i] = byte;
            let _ = parse::<f16>(&text, -1);
            if let Ok(parsed) = parse::<f32>(&text, -1) {
                prop_assert!(parsed.iter().all(|x| x.is_finite()));
            }
        }
    }
}
