//! A timing prototype for a list format not built (docs/ivfflat.md,
//! "Split-nibble SQ8 rows"): does a scan that reads only the high nibbles of
//! each row's SQ8 codes, and both planes only for the rows that first pass
//! cannot rule out, take less time than today's scan of whole codes?
//!
//! No bounds and no real data: the time of the integer code sums is what is
//! measured, over lists laid out as in an index. `LISTS` lists of 1,000 rows
//! each, one after another in memory (100 lists of 1,536 bytes a row: 154 MB,
//! far beyond the CPU's caches); each query sums its `PROBES` lists (random,
//! seeded), row by row:
//! - `sq8`: both query levels against each row's `dims` code bytes, with
//!   `kernels::code_dots` (what the scan runs today);
//! - `planes`: one query level against each row's high-nibble plane (`dims/2`
//!   bytes: byte j holds the high nibbles of codes j and j + dims/2), then for
//!   a share `SECOND` of the rows (spread evenly) both levels against the codes
//!   rebuilt from both planes (the low-nibble planes in an array of their
//!   own: stored apart from the high ones, as the format would keep them,
//!   so that reading one row's does not fetch its neighbours').
//!
//! The nibble kernel below is the prototype's own (AVX-512 VNNI, as
//! `code_dots`'s fastest one); it is checked against a plain loop before the
//! timing. Reported: µs per query, best of `ROUNDS` rounds of 200 queries.
//!
//!   cargo bench -p ruvector_core --bench nibble_planes -- DIMS [LISTS PROBES]
use ruvector_core::ivf::kmeans::Rng;
use ruvector_core::kernels::code_dots::code_dots;
use std::time::Instant;

const ROWS_PER_LIST: usize = 1000;
const QUERIES: usize = 200;
const ROUNDS: usize = 5;

/// Σ aᵢ·hᵢ over the high nibbles hᵢ of `dims` codes, from a plane of
/// `dims / 2` bytes (byte j: code j's nibble low, code j + dims/2's high).
fn plane_dot_plain(plane: &[u8], a: &[i8]) -> i32 {
    let half = plane.len();
    plane.iter().enumerate().map(|(j, &p)| (p & 15) as i32 * a[j] as i32 + (p >> 4) as i32 * a[j + half] as i32).sum()
}

/// Both levels' sums over the codes rebuilt from both planes.
fn both_planes_plain(high: &[u8], low: &[u8], a: &[i8], b: &[i8]) -> (i32, i32) {
    let half = high.len();
    let (mut sa, mut sb) = (0i32, 0i32);
    for j in 0..half {
        for (code, at) in [((high[j] & 15) << 4 | (low[j] & 15), j), ((high[j] >> 4) << 4 | (low[j] >> 4), j + half)] {
            sa += code as i32 * a[at] as i32;
            sb += code as i32 * b[at] as i32;
        }
    }
    (sa, sb)
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use std::arch::x86_64::*;

    pub fn available() -> bool {
        is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vnni")
    }

    /// `plane_dot_plain` for planes whose length is a multiple of 64.
    ///
    /// # Safety
    /// AVX-512F, BW and VNNI present; `plane.len() % 64 == 0`, `a.len() >= 2 * plane.len()`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn plane_dot(plane: &[u8], a: &[i8]) -> i32 {
        let half = plane.len();
        let (p, a) = (plane.as_ptr(), a.as_ptr());
        // SAFETY: every load reads [j, j + 64) of the plane, of a's first
        // half, or of its second half, all within the slices.
        unsafe {
            let nibble = _mm512_set1_epi8(15);
            let (mut s0, mut s1) = (_mm512_setzero_si512(), _mm512_setzero_si512());
            let mut j = 0;
            while j < half {
                let v = _mm512_loadu_si512(p.add(j).cast());
                let lo = _mm512_and_si512(v, nibble);
                let hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble);
                s0 = _mm512_dpbusd_epi32(s0, lo, _mm512_loadu_si512(a.add(j).cast()));
                s1 = _mm512_dpbusd_epi32(s1, hi, _mm512_loadu_si512(a.add(j + half).cast()));
                j += 64;
            }
            _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1))
        }
    }

    /// `both_planes_plain` for planes whose length is a multiple of 64.
    ///
    /// # Safety
    /// As `plane_dot`, for both planes and both levels.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn both_planes(high: &[u8], low: &[u8], a: &[i8], b: &[i8]) -> (i32, i32) {
        let half = high.len();
        let (h, l, a, b) = (high.as_ptr(), low.as_ptr(), a.as_ptr(), b.as_ptr());
        // SAFETY: as in `plane_dot`.
        unsafe {
            let nibble = _mm512_set1_epi8(15);
            let (mut sa, mut sb) = (_mm512_setzero_si512(), _mm512_setzero_si512());
            let mut j = 0;
            while j < half {
                let (vh, vl) = (_mm512_loadu_si512(h.add(j).cast()), _mm512_loadu_si512(l.add(j).cast()));
                // codes j..j+64: high nibble from vh's low half-bytes, low from vl's
                let first =
                    _mm512_or_si512(_mm512_slli_epi16(_mm512_and_si512(vh, nibble), 4), _mm512_and_si512(vl, nibble));
                // codes j+half..: both from the upper half-bytes
                let second = _mm512_or_si512(
                    _mm512_andnot_si512(nibble, vh),
                    _mm512_and_si512(_mm512_srli_epi16(vl, 4), nibble),
                );
                sa = _mm512_dpbusd_epi32(sa, first, _mm512_loadu_si512(a.add(j).cast()));
                sb = _mm512_dpbusd_epi32(sb, first, _mm512_loadu_si512(b.add(j).cast()));
                sa = _mm512_dpbusd_epi32(sa, second, _mm512_loadu_si512(a.add(j + half).cast()));
                sb = _mm512_dpbusd_epi32(sb, second, _mm512_loadu_si512(b.add(j + half).cast()));
                j += 64;
            }
            (_mm512_reduce_add_epi32(sa), _mm512_reduce_add_epi32(sb))
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let dims: usize = args.first().map_or(1536, |s| s.parse().expect("DIMS"));
    let lists: usize = args.get(1).map_or(100, |s| s.parse().expect("LISTS"));
    let probes: usize = args.get(2).map_or(4, |s| s.parse().expect("PROBES"));
    assert!(dims.is_multiple_of(128), "DIMS a multiple of 128 (the prototype has no tails)");
    #[cfg(target_arch = "x86_64")]
    let have_vnni = vnni::available();
    #[cfg(not(target_arch = "x86_64"))]
    let have_vnni = false;
    if !have_vnni {
        println!("this CPU has no AVX-512 VNNI; the prototype measures nothing here");
        return;
    }
    let half = dims / 2;
    let rows = lists * ROWS_PER_LIST;
    let mut rng = Rng::new(7);
    let codes: Vec<u8> = (0..rows * dims).map(|_| rng.next_u64() as u8).collect();
    // the high planes of all rows, one after another; the low planes apart
    let mut high = vec![0u8; rows * half];
    let mut low = vec![0u8; rows * half];
    for r in 0..rows {
        let c = &codes[r * dims..(r + 1) * dims];
        for j in 0..half {
            high[r * half + j] = (c[j] >> 4) | (c[j + half] & 0xF0);
            low[r * half + j] = (c[j] & 15) | (c[j + half] << 4);
        }
    }
    let a: Vec<i8> = (0..dims).map(|_| (rng.below(255) as i32 - 127) as i8).collect();
    let b: Vec<i8> = (0..dims).map(|_| (rng.below(255) as i32 - 127) as i8).collect();
    let dots = code_dots();
    // the kernels agree with the plain loops and with the whole codes
    for r in [0, rows / 2, rows - 1] {
        let (h, l) = (&high[r * half..(r + 1) * half], &low[r * half..(r + 1) * half]);
        let whole = dots(&codes[r * dims..(r + 1) * dims], &a, &b);
        assert_eq!(both_planes_plain(h, l, &a, &b), whole);
        // SAFETY: VNNI detected above; lengths as the kernels require.
        unsafe {
            assert_eq!(vnni::both_planes(h, l, &a, &b), whole);
            assert_eq!(vnni::plane_dot(h, &a), plane_dot_plain(h, &a));
        }
    }
    let queries: Vec<Vec<usize>> =
        (0..QUERIES).map(|_| (0..probes).map(|_| rng.below(lists as u64) as usize).collect()).collect();
    let time = |f: &dyn Fn(&[usize]) -> i64| {
        let mut best = f64::INFINITY;
        let mut sink = 0i64;
        for _ in 0..ROUNDS {
            let t = Instant::now();
            for q in &queries {
                sink = sink.wrapping_add(f(q));
            }
            best = best.min(t.elapsed().as_secs_f64() * 1e6 / QUERIES as f64);
        }
        std::hint::black_box(sink);
        best
    };
    let sq8 = time(&|q| {
        let mut s = 0i64;
        for &list in q {
            for r in list * ROWS_PER_LIST..(list + 1) * ROWS_PER_LIST {
                let (x, y) = dots(&codes[r * dims..(r + 1) * dims], &a, &b);
                s += (x ^ y) as i64;
            }
        }
        s
    });
    println!(
        "{dims} dims, {lists} lists of {ROWS_PER_LIST} rows ({:.0} MB of codes), probes {probes}",
        (rows * dims) as f64 / 1e6
    );
    println!("  sq8 (whole codes):                 {sq8:8.1} µs per query");
    for second in [0.0f64, 0.01, 0.05, 0.15] {
        let every = if second > 0.0 { (1.0 / second).round() as usize } else { usize::MAX };
        let planes = time(&|q| {
            let mut s = 0i64;
            for &list in q {
                for r in list * ROWS_PER_LIST..(list + 1) * ROWS_PER_LIST {
                    let h = &high[r * half..(r + 1) * half];
                    // SAFETY: VNNI detected above; lengths as the kernel requires.
                    s += unsafe { vnni::plane_dot(h, &a) } as i64;
                    if r % every == 0 {
                        let l = &low[r * half..(r + 1) * half];
                        // SAFETY: as above.
                        let (x, y) = unsafe { vnni::both_planes(h, l, &a, &b) };
                        s += (x ^ y) as i64;
                    }
                }
            }
            s
        });
        println!(
            "  high planes, {:>4.1} % both planes: {planes:8.1} µs per query ({:.2}× sq8's time)",
            second * 100.0,
            planes / sq8
        );
    }
}
