//! Scalar quantization of vectors to one byte per dimension, for the graph walk.
//!
//! Each dimension gets its own range, trained on the collection's vectors (the
//! 0.1st to the 99.9th percentile of a sample, so a few outliers do not coarsen
//! every other value); a value becomes the nearest of 256 steps across that range,
//! clipped at its ends. A query is not quantized that way: its products with each
//! dimension's step are rounded to signed 7-bit integers with one scale for the
//! whole query, and a point's approximate dot product is then an exact integer sum
//! of unsigned-by-signed byte products (`vpdpbusd` with AVX-512 VNNI or AVX-VNNI,
//! `vpmaddubsw` with AVX2, whose pairwise 16-bit sums cannot saturate with 7-bit
//! query bytes: `2 · 255 · 63 = 32130`). The integer sum is the same on every CPU.
//!
//! The approximation only steers the walk: the graph rescored its candidates with
//! the full-precision vectors before it answers.

/// Largest magnitude of a query byte.
const QUERY_MAX: f32 = 63.0;
/// Values per dimension in a trained sample (more says nothing new about a range).
pub(crate) const SAMPLE: usize = 16_384;
/// The share of a sample left outside each dimension's range, at each end.
const CLIP: f64 = 0.001;

/// Per-dimension ranges: `x ≈ lo + step · code`, `code` in `0..=255`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Quantizer {
    lo: Box<[f32]>,
    step: Box<[f32]>,
}

/// A query prepared for [`Quantizer`]'s codes: `q · x ≈ bias + scale · Σ bytes · code`.
pub(crate) struct QueryCodes {
    /// Signed 7-bit values, padded with zeros to the codes' stride.
    pub(crate) bytes: Vec<i8>,
    scale: f32,
    bias: f32,
}

impl QueryCodes {
    /// The approximate dot product with a point whose codes are `codes`.
    #[inline]
    pub(crate) fn dot(&self, codes: &[u8]) -> f32 {
        self.bias + self.scale * dot_u8_i8(codes, &self.bytes) as f32
    }
}

/// Bytes a point's codes take: the dimension rounded up to whole 64-byte lines, so
/// every kernel reads full registers.
pub(crate) fn stride(dim: usize) -> usize {
    dim.div_ceil(64) * 64
}

impl Quantizer {
    /// Trains the ranges on `sample` (vectors of `dim` dimensions; at most
    /// [`SAMPLE`] are looked at, spread evenly over the sample).
    pub(crate) fn train(dim: usize, sample: &[&[f32]]) -> Quantizer {
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
            lo: lo.into(),
            step: step.into(),
        }
    }

    /// The dimension the quantizer was trained for.
    pub(crate) fn dim(&self) -> usize {
        self.lo.len()
    }

    /// Writes the codes of `v` into `out` (at least `dim` bytes; the rest is left).
    pub(crate) fn encode(&self, v: &[f32], out: &mut [u8]) {
        for (((o, &x), &lo), &step) in out.iter_mut().zip(v).zip(&*self.lo).zip(&*self.step) {
            *o = ((x - lo) / step).round().clamp(0.0, 255.0) as u8;
        }
    }

    /// `q` prepared for comparisons with codes.
    pub(crate) fn query(&self, q: &[f32]) -> QueryCodes {
        let weighted: Vec<f32> = q.iter().zip(&*self.step).map(|(x, s)| x * s).collect();
        let largest = weighted.iter().fold(0f32, |m, w| m.max(w.abs()));
        let scale = if largest > 0.0 {
            largest / QUERY_MAX
        } else {
            1.0
        };
        let mut bytes = vec![0i8; stride(self.dim())];
        for (b, w) in bytes.iter_mut().zip(&weighted) {
            *b = (w / scale).round().clamp(-QUERY_MAX, QUERY_MAX) as i8;
        }
        let bias = q.iter().zip(&*self.lo).map(|(x, lo)| x * lo).sum();
        QueryCodes { bytes, scale, bias }
    }

    /// The ranges as bytes: `lo` then `step`, little-endian.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        self.lo
            .iter()
            .chain(&*self.step)
            .flat_map(|x| x.to_le_bytes())
            .collect()
    }

    /// Ranges written by [`Quantizer::to_bytes`] for `dim` dimensions; `None` when
    /// a value is not finite or a step not positive.
    pub(crate) fn from_bytes(dim: usize, bytes: &[u8]) -> Option<Quantizer> {
        if bytes.len() != 8 * dim {
            return None;
        }
        let floats: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let (lo, step) = floats.split_at(dim);
        if lo.iter().any(|x| !x.is_finite()) || step.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return None;
        }
        Some(Quantizer {
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
        if std::arch::is_x86_feature_detected!("avx512vnni")
            && std::arch::is_x86_feature_detected!("avx512bw")
        {
            // SAFETY: the CPU has AVX-512 VNNI and BW, checked just above.
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
                    if std::arch::is_x86_feature_detected!("avx512vnni")
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
                std::arch::is_x86_feature_detected!("avx512vnni")
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
        let quantizer = Quantizer::train(dim, &refs);
        let mut codes = vec![0u8; stride(dim)];
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
        let quantizer = Quantizer::train(dim, &refs);
        let bytes = quantizer.to_bytes();
        assert_eq!(Quantizer::from_bytes(dim, &bytes), Some(quantizer));
        assert!(Quantizer::from_bytes(dim + 1, &bytes).is_none());
        let mut bad = bytes.clone();
        bad[8 * dim - 4..].copy_from_slice(&0f32.to_le_bytes());
        assert!(Quantizer::from_bytes(dim, &bad).is_none());
        // One point, or a constant dimension: a usable range all the same.
        let single = Quantizer::train(dim, &refs[..1]);
        assert!(single.step.iter().all(|s| *s > 0.0));
    }
}
