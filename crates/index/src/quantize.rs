//! Scalar quantization of vectors for the graph walk: one byte or one bit per
//! dimension.
//!
//! **int8.** Each dimension gets its own range, trained on the collection's vectors
//! (the 0.1st to the 99.9th percentile of a sample, so a few outliers do not coarsen
//! every other value); a value becomes the nearest of 256 steps across that range,
//! clipped at its ends. A query is not quantized that way: its products with each
//! dimension's step are rounded to signed 7-bit integers with one scale for the
//! whole query, and a point's approximate dot product is then an exact integer sum
//! of unsigned-by-signed byte products (`vpdpbusd` with AVX-512 VNNI or AVX-VNNI,
//! `vpmaddubsw` with AVX2, whose pairwise 16-bit sums cannot saturate with 7-bit
//! query bytes: `2 · 255 · 63 = 32130`). The integer sum is the same on every CPU.
//!
//! **Binary.** Each dimension gets two levels, the means of the sample's values
//! below and above its median; a bit says which level a value is nearer. The query
//! stays in full precision: for each byte of a point's bits, a table built per query
//! holds the sum of the query's weights over the bits set, so a point costs one
//! lookup per 8 dimensions.
//!
//! The approximation only steers the walk: the graph rescores its candidates with
//! the full-precision vectors before it answers.

use crate::vectors::Quantization;

/// Largest magnitude of a query byte.
const QUERY_MAX: f32 = 63.0;
/// Values per dimension in a trained sample (more says nothing new about a range).
pub(crate) const SAMPLE: usize = 16_384;
/// The share of a sample left outside each dimension's range, at each end.
const CLIP: f64 = 0.001;

/// Per-dimension levels: `x ≈ lo + step · code`, `code` in `0..=255` (int8) or
/// `0..=1` (binary).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Quantizer {
    kind: Quantization,
    lo: Box<[f32]>,
    step: Box<[f32]>,
}

/// A query prepared for a [`Quantizer`]'s codes.
pub(crate) enum QueryCodes {
    /// `q · x ≈ bias + scale · Σ bytes · code`.
    Int8 {
        /// Signed 7-bit values, padded with zeros to the codes' stride.
        bytes: Vec<i8>,
        scale: f32,
        bias: f32,
    },
    /// `q · x ≈ bias + Σ over code bytes j of table[256 j + byte]`.
    Binary { table: Vec<f32>, bias: f32 },
}

impl QueryCodes {
    /// The approximate dot product with a point whose codes are `codes`.
    #[inline]
    pub(crate) fn dot(&self, codes: &[u8]) -> f32 {
        match self {
            QueryCodes::Int8 { bytes, scale, bias } => {
                bias + scale * dot_u8_i8(codes, bytes) as f32
            }
            QueryCodes::Binary { table, bias } => {
                let (tables, _) = table.as_chunks::<256>();
                let mut acc = [0f32; 4];
                for (t, c) in tables.chunks_exact(4).zip(codes.chunks_exact(4)) {
                    for i in 0..4 {
                        acc[i] += t[i][c[i] as usize];
                    }
                }
                bias + (acc[0] + acc[1]) + (acc[2] + acc[3])
            }
        }
    }
}

/// Bytes a point's codes take: for int8 the dimension rounded up to whole 64-byte
/// lines, so every kernel reads full registers; for binary a bit a dimension, in
/// whole 4-byte groups (none without quantization).
pub(crate) fn stride(kind: Quantization, dim: usize) -> usize {
    match kind {
        Quantization::None => 0,
        Quantization::Int8 => dim.div_ceil(64) * 64,
        Quantization::Binary => dim.div_ceil(32) * 4,
    }
}

impl Quantizer {
    /// Trains the levels on `sample` (vectors of `dim` dimensions; at most
    /// [`SAMPLE`] are looked at, spread evenly over the sample).
    pub(crate) fn train(kind: Quantization, dim: usize, sample: &[&[f32]]) -> Quantizer {
        let every = sample.len().div_ceil(SAMPLE).max(1);
        let picked: Vec<&[f32]> = sample.iter().step_by(every).copied().collect();
        let mut lo = vec![-1.0f32; dim];
        let mut step = vec![2.0f32 / 255.0; dim];
        let mut values = Vec::with_capacity(picked.len());
        for d in 0..dim {
            values.clear();
            values.extend(picked.iter().filter_map(|v| v.get(d).copied()));
            values.retain(|x| x.is_finite());
            if values.is_empty() {
                continue;
            }
            if kind == Quantization::Binary {
                // Split at the median; each half stands for its mean.
                let half = values.len() / 2;
                values.select_nth_unstable_by(half, f32::total_cmp);
                let mean = |v: &[f32]| {
                    if v.is_empty() {
                        0.0
                    } else {
                        v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64
                    }
                };
                let (below, above) = values.split_at(half);
                let (low, high) = (mean(below) as f32, mean(above) as f32);
                lo[d] = low;
                step[d] = (high - low).max(1e-6);
                continue;
            }
            let cut = ((values.len() as f64 * CLIP) as usize).min(values.len() - 1);
            let (_, &mut low, _) = values.select_nth_unstable_by(cut, f32::total_cmp);
            let top = values.len() - 1 - cut;
            let (_, &mut high, _) = values.select_nth_unstable_by(top, f32::total_cmp);
            // A dimension that barely varies still gets a usable step.
            let width = (high - low).max(1e-6);
            lo[d] = low;
            step[d] = width / 255.0;
        }
        Quantizer {
            kind,
            lo: lo.into(),
            step: step.into(),
        }
    }

    /// What the codes are.
    pub(crate) fn kind(&self) -> Quantization {
        self.kind
    }

    /// The dimension the quantizer was trained for.
    pub(crate) fn dim(&self) -> usize {
        self.lo.len()
    }

    /// Writes the codes of `v` into `out` (its stride; bytes past the codes are left).
    pub(crate) fn encode(&self, v: &[f32], out: &mut [u8]) {
        let levels = v.iter().zip(&*self.lo).zip(&*self.step);
        if self.kind == Quantization::Binary {
            out.iter_mut().for_each(|b| *b = 0);
            for (d, ((&x, &lo), &step)) in levels.enumerate() {
                if (x - lo) / step > 0.5 {
                    out[d / 8] |= 1 << (d % 8);
                }
            }
            return;
        }
        for (o, ((&x, &lo), &step)) in out.iter_mut().zip(levels) {
            *o = ((x - lo) / step).round().clamp(0.0, 255.0) as u8;
        }
    }

    /// `q` prepared for comparisons with codes.
    pub(crate) fn query(&self, q: &[f32]) -> QueryCodes {
        let weighted: Vec<f32> = q.iter().zip(&*self.step).map(|(x, s)| x * s).collect();
        let bias = q.iter().zip(&*self.lo).map(|(x, lo)| x * lo).sum();
        if self.kind == Quantization::Binary {
            let groups = stride(self.kind, self.dim());
            let mut table = vec![0f32; groups * 256];
            for (j, t) in table.chunks_exact_mut(256).enumerate() {
                for byte in 1..256usize {
                    let low = byte.trailing_zeros() as usize;
                    let w = weighted.get(8 * j + low).copied().unwrap_or(0.0);
                    t[byte] = t[byte & (byte - 1)] + w;
                }
            }
            return QueryCodes::Binary { table, bias };
        }
        let largest = weighted.iter().fold(0f32, |m, w| m.max(w.abs()));
        let scale = if largest > 0.0 {
            largest / QUERY_MAX
        } else {
            1.0
        };
        let mut bytes = vec![0i8; stride(self.kind, self.dim())];
        for (b, w) in bytes.iter_mut().zip(&weighted) {
            *b = (w / scale).round().clamp(-QUERY_MAX, QUERY_MAX) as i8;
        }
        QueryCodes::Int8 { bytes, scale, bias }
    }

    /// The levels as bytes: the kind (1 int8, 2 binary), then `lo` and `step`,
    /// little-endian.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let tag = if self.kind == Quantization::Binary {
            2
        } else {
            1
        };
        std::iter::once(tag)
            .chain(
                self.lo
                    .iter()
                    .chain(&*self.step)
                    .flat_map(|x| x.to_le_bytes()),
            )
            .collect()
    }

    /// Bytes [`Quantizer::to_bytes`] writes for `dim` dimensions.
    pub(crate) fn byte_len(dim: usize) -> usize {
        1 + 8 * dim
    }

    /// Levels written by [`Quantizer::to_bytes`] for `dim` dimensions; `None` when
    /// the kind is unknown, a value is not finite or a step not positive.
    pub(crate) fn from_bytes(dim: usize, bytes: &[u8]) -> Option<Quantizer> {
        if bytes.len() != Self::byte_len(dim) {
            return None;
        }
        let kind = match bytes[0] {
            1 => Quantization::Int8,
            2 => Quantization::Binary,
            _ => return None,
        };
        let floats: Vec<f32> = bytes[1..]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let (lo, step) = floats.split_at(dim);
        if lo.iter().any(|x| !x.is_finite()) || step.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return None;
        }
        Some(Quantizer {
            kind,
            lo: lo.into(),
            step: step.into(),
        })
    }
}

/// `Σ a[i] · b[i]` over unsigned and signed bytes of the same length, a multiple of
/// 64, `b` within `-63..=63`. Uses VNNI where the CPU has it (checked at run time),
/// else AVX2, otherwise a portable loop; all give the same integer.
#[inline]
pub(crate) fn dot_u8_i8(a: &[u8], b: &[i8]) -> i32 {
    debug_assert_eq!(a.len(), b.len());
    debug_assert_eq!(a.len() % 64, 0);
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vnni")
            && std::arch::is_x86_feature_detected!("avx512bw")
        {
            // SAFETY: the CPU has AVX-512 F, VNNI and BW, checked just above.
            return unsafe { dot_u8_i8_avx512vnni(a, b) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { dot_u8_i8_avx2(a, b) };
        }
    }
    dot_u8_i8_portable(a, b)
}

fn dot_u8_i8_portable(a: &[u8], b: &[i8]) -> i32 {
    let mut acc = [0i32; 16];
    for (x, y) in a.chunks_exact(16).zip(b.chunks_exact(16)) {
        for i in 0..16 {
            acc[i] += i32::from(x[i]) * i32::from(y[i]);
        }
    }
    acc.iter().sum()
}

/// [`dot_u8_i8`] with `vpdpbusd` on 512-bit registers, two accumulators.
///
/// # Safety
/// The CPU must support AVX-512F, BW and VNNI.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn dot_u8_i8_avx512vnni(a: &[u8], b: &[i8]) -> i32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len()) / 64 * 64;
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm512_setzero_si512(); 2];
    let mut i = 0;
    // SAFETY (all loads): every 64-byte load starts at an offset at most `n - 64`.
    while i < n {
        let s = &mut acc[(i / 64) & 1];
        let (x, y) = unsafe {
            (
                _mm512_loadu_si512(pa.add(i).cast()),
                _mm512_loadu_si512(pb.add(i).cast()),
            )
        };
        *s = _mm512_dpbusd_epi32(*s, x, y);
        i += 64;
    }
    _mm512_reduce_add_epi32(_mm512_add_epi32(acc[0], acc[1]))
}

/// [`dot_u8_i8`] with `vpmaddubsw` (byte pairs to 16 bits, which 7-bit query bytes
/// keep from saturating) and `vpmaddwd` (pairs of those to 32 bits).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_u8_i8_avx2(a: &[u8], b: &[i8]) -> i32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len()) / 32 * 32;
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let ones = _mm256_set1_epi16(1);
    let mut acc = [_mm256_setzero_si256(); 2];
    let mut i = 0;
    // SAFETY (all loads): every 32-byte load starts at an offset at most `n - 32`.
    while i < n {
        let s = &mut acc[(i / 32) & 1];
        let (x, y) = unsafe {
            (
                _mm256_loadu_si256(pa.add(i).cast()),
                _mm256_loadu_si256(pb.add(i).cast()),
            )
        };
        *s = _mm256_add_epi32(*s, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), ones));
        i += 32;
    }
    let s = _mm256_add_epi32(acc[0], acc[1]);
    let q = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    let q = _mm_add_epi32(q, _mm_shuffle_epi32(q, 0b01_00_11_10));
    let q = _mm_add_epi32(q, _mm_shuffle_epi32(q, 0b10_11_00_01));
    _mm_cvtsi128_si32(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(dim: usize, state: &mut u64) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dim)
            .map(|_| {
                *state ^= *state << 13;
                *state ^= *state >> 7;
                *state ^= *state << 17;
                (*state % 2001) as f32 / 1000.0 - 1.0
            })
            .collect();
        crate::vectors::normalize(&mut v);
        v
    }

    /// Every kernel gives the naive integer sum, at the extremes of both ranges too.
    #[test]
    fn byte_dot_products_agree_on_every_path() {
        let mut state = 7u64;
        for len in [64usize, 128, 384, 448] {
            for pattern in 0..3 {
                let a: Vec<u8> = (0..len)
                    .map(|i| match pattern {
                        0 => 255,
                        1 => (i * 37 % 256) as u8,
                        _ => {
                            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                            (state >> 56) as u8
                        }
                    })
                    .collect();
                let b: Vec<i8> = (0..len)
                    .map(|i| match pattern {
                        0 => 63,
                        1 => ((i * 53 % 127) as i32 - 63) as i8,
                        _ => ((state >> (i % 50)) % 127) as i8 - 63,
                    })
                    .collect();
                let naive: i32 = a.iter().zip(&b).map(|(&x, &y)| x as i32 * y as i32).sum();
                assert_eq!(dot_u8_i8_portable(&a, &b), naive, "portable, {len}");
                assert_eq!(dot_u8_i8(&a, &b), naive, "dispatched, {len}");
                #[cfg(target_arch = "x86_64")]
                {
                    if std::arch::is_x86_feature_detected!("avx2") {
                        // SAFETY: checked just above.
                        assert_eq!(unsafe { dot_u8_i8_avx2(&a, &b) }, naive, "avx2");
                    }
                    if std::arch::is_x86_feature_detected!("avx512f")
                        && std::arch::is_x86_feature_detected!("avx512vnni")
                        && std::arch::is_x86_feature_detected!("avx512bw")
                    {
                        // SAFETY: checked just above.
                        assert_eq!(unsafe { dot_u8_i8_avx512vnni(&a, &b) }, naive, "vnni");
                    }
                }
            }
        }
        #[cfg(target_arch = "x86_64")]
        for (name, present) in [
            ("AVX2", std::arch::is_x86_feature_detected!("avx2")),
            (
                "AVX-512 VNNI",
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vnni")
                    && std::arch::is_x86_feature_detected!("avx512bw"),
            ),
        ] {
            if !present {
                eprintln!("skipped: the {name} byte dot product (not on this CPU)");
            }
        }
    }

    /// Approximate dot products stay close to the exact ones, and keep their order
    /// where the exact ones differ clearly.
    #[test]
    fn approximate_products_track_exact_ones() {
        let dim = 384;
        let mut state = 0x9E37_79B9u64;
        let points: Vec<Vec<f32>> = (0..2000).map(|_| unit(dim, &mut state)).collect();
        let refs: Vec<&[f32]> = points.iter().map(Vec::as_slice).collect();
        let quantizer = Quantizer::train(Quantization::Int8, dim, &refs);
        let mut codes = vec![0u8; stride(Quantization::Int8, dim)];
        for q in points.iter().take(20) {
            let prepared = quantizer.query(q);
            for p in &points[1000..1100] {
                quantizer.encode(p, &mut codes);
                let exact = crate::vectors::dot(q, p);
                let approx = prepared.dot(&codes);
                assert!((exact - approx).abs() < 0.02, "{exact} vs {approx}");
            }
        }
        // Values outside the trained range are clipped, not wrapped.
        let mut wild = vec![0f32; dim];
        wild[0] = 5.0;
        wild[1] = -5.0;
        quantizer.encode(&wild, &mut codes);
        assert_eq!((codes[0], codes[1]), (255, 0));
    }

    #[test]
    fn ranges_round_trip_through_bytes_and_bad_ones_are_refused() {
        let dim = 5;
        let mut state = 3u64;
        let points: Vec<Vec<f32>> = (0..50).map(|_| unit(dim, &mut state)).collect();
        let refs: Vec<&[f32]> = points.iter().map(Vec::as_slice).collect();
        for kind in [Quantization::Int8, Quantization::Binary] {
            let quantizer = Quantizer::train(kind, dim, &refs);
            let bytes = quantizer.to_bytes();
            assert_eq!(Quantizer::from_bytes(dim, &bytes), Some(quantizer));
            assert!(Quantizer::from_bytes(dim + 1, &bytes).is_none());
            let mut bad = bytes.clone();
            bad[1 + 8 * dim - 4..].copy_from_slice(&0f32.to_le_bytes());
            assert!(Quantizer::from_bytes(dim, &bad).is_none());
            let mut unknown = bytes.clone();
            unknown[0] = 9;
            assert!(Quantizer::from_bytes(dim, &unknown).is_none());
            // One point, or a constant dimension: usable levels all the same.
            let single = Quantizer::train(kind, dim, &refs[..1]);
            assert!(single.step.iter().all(|s| *s > 0.0));
        }
    }

    /// Binary codes: one bit a dimension, packed little-end first; a point's
    /// approximate product is the sum of the table entries its bytes pick, which is
    /// the product with the levels its bits stand for; and it ranks points much as
    /// the exact product does.
    #[test]
    fn binary_codes_stand_for_half_means_and_rank_like_exact_products() {
        let dim = 70;
        let mut state = 0x0B17_u64;
        let points: Vec<Vec<f32>> = (0..3000).map(|_| unit(dim, &mut state)).collect();
        let refs: Vec<&[f32]> = points.iter().map(Vec::as_slice).collect();
        let quantizer = Quantizer::train(Quantization::Binary, dim, &refs);
        let width = stride(Quantization::Binary, dim);
        assert_eq!(width, 12);
        let mut codes = vec![0u8; width];
        let q = &points[0];
        let prepared = quantizer.query(q);
        let (mut pairs, mut agree) = (0, 0);
        for (i, p) in points[1..200].iter().enumerate() {
            quantizer.encode(p, &mut codes);
            for d in 0..dim {
                let above = (p[d] - quantizer.lo[d]) / quantizer.step[d] > 0.5;
                assert_eq!(codes[d / 8] >> (d % 8) & 1 == 1, above, "bit {d}");
            }
            assert!(codes[9..].iter().all(|&b| b == 0), "padding stays zero");
            let level: f32 = (0..dim)
                .map(|d| {
                    let bit = f32::from(codes[d / 8] >> (d % 8) & 1);
                    q[d] * (quantizer.lo[d] + quantizer.step[d] * bit)
                })
                .sum();
            assert!((prepared.dot(&codes) - level).abs() < 1e-4);
            let other = &points[200 + i];
            quantizer.encode(other, &mut codes);
            let other_approx = prepared.dot(&codes);
            quantizer.encode(p, &mut codes);
            let exact_order = crate::vectors::dot(q, p) > crate::vectors::dot(q, other);
            pairs += 1;
            agree += usize::from((prepared.dot(&codes) > other_approx) == exact_order);
        }
        assert!(agree * 10 >= pairs * 7, "{agree} of {pairs} pairs in order");
    }
}
