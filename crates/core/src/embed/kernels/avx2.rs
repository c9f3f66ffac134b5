//! The kernels on AVX2 and FMA (256-bit): most x86-64 laptops, desktops and servers
//! without AVX-512 (AMD before Zen 4, Intel client cores since Alder Lake).
//!
//! The f32 tile is 6 x 16 (twelve accumulators, two panel registers, one broadcast:
//! fifteen of the sixteen registers). GELU and `exp` are vectorised polynomials
//! (candle's CPU path calls scalar `erf` and `expf`). The int8 tile multiplies
//! unsigned activation bytes by signed weight bytes with `vpmaddubsw` + `vpmaddwd`,
//! or in one `vpdpbusd` where the CPU has AVX-VNNI or AVX-512 VNNI.

use std::arch::x86_64::{
    __m256, __m256i, _mm256_add_epi32, _mm256_add_ps, _mm256_and_ps, _mm256_andnot_ps,
    _mm256_broadcast_ss, _mm256_castsi256_ps, _mm256_cmpgt_epi32, _mm256_cvtps_epi32,
    _mm256_fmadd_ps, _mm256_fnmadd_ps, _mm256_loadu_ps, _mm256_loadu_si256, _mm256_madd_epi16,
    _mm256_maddubs_epi16, _mm256_maskload_ps, _mm256_maskstore_ps, _mm256_max_ps, _mm256_min_ps,
    _mm256_mul_ps, _mm256_or_ps, _mm256_rcp_ps, _mm256_round_ps, _mm256_set1_epi16,
    _mm256_set1_epi32, _mm256_set1_ps, _mm256_setr_epi32, _mm256_setzero_ps, _mm256_setzero_si256,
    _mm256_slli_epi32, _mm256_storeu_ps, _mm256_storeu_si256, _mm256_sub_ps, _MM_FROUND_NO_EXC,
    _MM_FROUND_TO_NEAREST_INT,
};

use super::{int8, Act, Kernels};

/// The AVX2 + FMA kernels.
pub(crate) struct Avx2;

/// Rows of one tile.
const MR: usize = 6;
/// Columns of one tile (two 8-lane registers).
const NR: usize = 16;

/// Whether this CPU runs these kernels.
pub(crate) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Which instruction the int8 tile multiplies with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum DotI8 {
    /// `vpmaddubsw` + `vpmaddwd` + `vpaddd` (AVX2).
    Maddubs,
    /// `vpdpbusd` on 256 bits (AVX-VNNI).
    AvxVnni,
    /// `vpdpbusd` on 256 bits (AVX-512 VNNI with VL).
    Avx512Vnni,
}

impl DotI8 {
    /// The fastest this CPU runs (AVX2 assumed), or `maddubs` where the
    /// `TRAWL_INT8_DOT` environment variable says so (to measure an AVX2 machine
    /// without VNNI on one with it).
    pub(crate) fn detect() -> DotI8 {
        static BEST: std::sync::OnceLock<DotI8> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| {
            if std::env::var("TRAWL_INT8_DOT").is_ok_and(|v| v == "maddubs") {
                DotI8::Maddubs
            } else if std::arch::is_x86_feature_detected!("avxvnni") {
                DotI8::AvxVnni
            } else if std::arch::is_x86_feature_detected!("avx512vnni")
                && std::arch::is_x86_feature_detected!("avx512vl")
            {
                DotI8::Avx512Vnni
            } else {
                DotI8::Maddubs
            }
        })
    }

    /// Whether this CPU runs it.
    #[cfg(test)]
    pub(crate) fn runnable(self) -> bool {
        available()
            && match self {
                DotI8::Maddubs => true,
                DotI8::AvxVnni => std::arch::is_x86_feature_detected!("avxvnni"),
                DotI8::Avx512Vnni => {
                    std::arch::is_x86_feature_detected!("avx512vnni")
                        && std::arch::is_x86_feature_detected!("avx512vl")
                }
            }
    }

    /// The int8 tile on this instruction ([`Kernels::dot_i8`]).
    ///
    /// # Safety
    /// [`DotI8::runnable`], and the bounds of [`Kernels::dot_i8`].
    pub(crate) unsafe fn dot(
        self,
        k: usize,
        a: *const u8,
        lda: usize,
        rows: usize,
        b: *const i8,
        acc: &mut [[i32; 16]; int8::MR],
    ) {
        // SAFETY: within this function's # Safety contract, which its caller upholds.
        unsafe {
            match self {
                DotI8::Maddubs => dot_maddubs(k, a, lda, rows, b, acc),
                DotI8::AvxVnni => dot_avxvnni(k, a, lda, rows, b, acc),
                DotI8::Avx512Vnni => dot_avx512vnni(k, a, lda, rows, b, acc),
            }
        }
    }
}

/// Lane masks for the first `cols` (at most 16) columns of a tile, as `vmaskmovps`
/// takes them.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn column_masks(cols: usize) -> [__m256i; 2] {
    let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    #[allow(clippy::cast_possible_wrap, clippy::cast_possible_truncation)]
    let n = cols as i32;
    [
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lanes),
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8), lanes),
    ]
}

impl Kernels for Avx2 {
    const MR: usize = MR;
    const NR: usize = NR;
    const KC: usize = 256;
    /// Six rows read in place, each a sequential stream: packing them cost more than
    /// it saved.
    const DIRECT_A: bool = true;

    /// # Safety
    /// As [`Kernels::pack_a`](super::Kernels::pack_a), on a CPU with AVX2 and FMA.
    unsafe fn pack_a(a: &[f32], lda: usize, mc: usize, k0: usize, kc: usize, out: &mut [f32]) {
        super::pack_a_scalar(MR, a, lda, mc, k0, kc, out);
    }

    /// # Safety
    /// As [`Kernels::tile`](super::Kernels::tile), on a CPU with AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile(
        kc: usize,
        a: *const f32,
        a_rows: usize,
        a_step: usize,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        rows: usize,
        cols: usize,
        load_c: bool,
        bias: Option<*const f32>,
        act: Act,
    ) {
        // SAFETY: within this function's # Safety contract, which its caller upholds.
        unsafe {
            let masks = column_masks(cols);
            let mut acc = [[_mm256_setzero_ps(); 2]; MR];
            if load_c {
                for (r, acc) in acc.iter_mut().enumerate().take(rows) {
                    let row = c.add(r * ldc);
                    acc[0] = _mm256_maskload_ps(row, masks[0]);
                    acc[1] = _mm256_maskload_ps(row.wrapping_add(8), masks[1]);
                }
            }
            // Rows past `rows` read the last row again (never stored): in place, they may
            // not exist.
            let row: [*const f32; MR] = std::array::from_fn(|r| a.add(r.min(rows - 1) * a_rows));
            for p in 0..kc {
                let b0 = _mm256_loadu_ps(b.add(p * NR));
                let b1 = _mm256_loadu_ps(b.add(p * NR + 8));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = _mm256_broadcast_ss(&*row[r].add(p * a_step));
                    acc[0] = _mm256_fmadd_ps(x, b0, acc[0]);
                    acc[1] = _mm256_fmadd_ps(x, b1, acc[1]);
                }
            }
            if let Some(bias) = bias {
                let b0 = _mm256_maskload_ps(bias, masks[0]);
                // The second half may lie past the bias (its mask is then empty).
                let b1 = _mm256_maskload_ps(bias.wrapping_add(8), masks[1]);
                for acc in &mut acc {
                    acc[0] = _mm256_add_ps(acc[0], b0);
                    acc[1] = _mm256_add_ps(acc[1], b1);
                }
            }
            for (r, acc) in acc.iter().enumerate().take(rows) {
                let row = c.add(r * ldc);
                if cols == NR {
                    _mm256_storeu_ps(row, acc[0]);
                    _mm256_storeu_ps(row.add(8), acc[1]);
                } else {
                    _mm256_maskstore_ps(row, masks[0], acc[0]);
                    _mm256_maskstore_ps(row.wrapping_add(8), masks[1], acc[1]);
                }
            }
            if act == Act::Gelu {
                // On the stored tile, still in L1: GELU's temporaries would push the
                // accumulators out of registers.
                for r in 0..rows {
                    let row = c.add(r * ldc);
                    for (half, mask) in masks.iter().enumerate() {
                        // A half past `cols` may lie past `c`: its mask is empty.
                        let at = row.wrapping_add(8 * half);
                        _mm256_maskstore_ps(at, *mask, gelu8(_mm256_maskload_ps(at, *mask)));
                    }
                }
            }
        }
    }

    /// # Safety
    /// As [`Kernels::softmax_columns`](super::Kernels::softmax_columns), on a CPU with AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn softmax_columns(m: &mut [f32], rows: usize, cols: usize, ld: usize, inv: &mut [f32]) {
        // SAFETY: within this function's # Safety contract, which its caller upholds.
        unsafe {
            if rows == 0 || cols == 0 {
                return;
            }
            assert!((rows - 1) * ld + cols <= m.len(), "matrix out of bounds");
            assert!(inv.len() >= cols, "inverse sums too short");
            let p = m.as_mut_ptr();
            for j0 in (0..cols).step_by(8) {
                let mask = column_masks(cols - j0)[0];
                let mut mx = _mm256_set1_ps(f32::NEG_INFINITY);
                for r in 0..rows {
                    mx = _mm256_max_ps(mx, _mm256_maskload_ps(p.add(r * ld + j0), mask));
                }
                let mut sum = _mm256_setzero_ps();
                for r in 0..rows {
                    let at = p.add(r * ld + j0);
                    let e = exp8(_mm256_sub_ps(_mm256_maskload_ps(at, mask), mx));
                    _mm256_maskstore_ps(at, mask, e);
                    sum = _mm256_add_ps(sum, e);
                }
                let mut out = [0.0f32; 8];
                _mm256_storeu_ps(out.as_mut_ptr(), sum);
                for (l, s) in out.iter().enumerate().take((cols - j0).min(8)) {
                    inv[j0 + l] = 1.0 / s;
                }
            }
        }
    }

    /// # Safety
    /// As [`Kernels::layer_norm_rows`](super::Kernels::layer_norm_rows), on a CPU with AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn layer_norm_rows(xs: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
        // SAFETY: within this function's # Safety contract, which its caller upholds.
        unsafe {
            let h = gamma.len();
            assert!(h.is_multiple_of(8) && beta.len() == h, "layer norm width");
            #[allow(clippy::cast_precision_loss)]
            let inv_h = 1.0 / h as f32;
            for row in xs.chunks_exact_mut(h) {
                let p = row.as_mut_ptr();
                let mut s = _mm256_setzero_ps();
                for i in (0..h).step_by(8) {
                    s = _mm256_add_ps(s, _mm256_loadu_ps(p.add(i)));
                }
                let mean = _mm256_set1_ps(hsum(s) * inv_h);
                let mut v = _mm256_setzero_ps();
                for i in (0..h).step_by(8) {
                    let d = _mm256_sub_ps(_mm256_loadu_ps(p.add(i)), mean);
                    v = _mm256_fmadd_ps(d, d, v);
                }
                let inv_std = _mm256_set1_ps(1.0 / (hsum(v) * inv_h + eps).sqrt());
                for i in (0..h).step_by(8) {
                    let d = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(p.add(i)), mean), inv_std);
                    let y = _mm256_fmadd_ps(
                        d,
                        _mm256_loadu_ps(gamma.as_ptr().add(i)),
                        _mm256_loadu_ps(beta.as_ptr().add(i)),
                    );
                    _mm256_storeu_ps(p.add(i), y);
                }
            }
        }
    }

    /// # Safety
    /// As [`Kernels::gelu`](super::Kernels::gelu), on a CPU with AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn gelu(xs: &mut [f32]) {
        // SAFETY: within this function's # Safety contract, which its caller upholds.
        unsafe {
            let mut chunks = xs.chunks_exact_mut(8);
            for c in &mut chunks {
                _mm256_storeu_ps(c.as_mut_ptr(), gelu8(_mm256_loadu_ps(c.as_ptr())));
            }
            let rest = chunks.into_remainder();
            if !rest.is_empty() {
                let mask = column_masks(rest.len())[0];
                let v = _mm256_maskload_ps(rest.as_ptr(), mask);
                _mm256_maskstore_ps(rest.as_mut_ptr(), mask, gelu8(v));
            }
        }
    }

    /// # Safety
    /// As [`Kernels::dot_i8`](super::Kernels::dot_i8), on a CPU with AVX2 and FMA.
    unsafe fn dot_i8(
        k: usize,
        a: *const u8,
        lda: usize,
        rows: usize,
        b: *const i8,
        acc: &mut [[i32; 16]; int8::MR],
    ) {
        // SAFETY: within this function's # Safety contract, which its caller upholds.
        unsafe {
            DotI8::detect().dot(k, a, lda, rows, b, acc);
        }
    }

    /// # Safety
    /// As [`Kernels::quantize_row`](super::Kernels::quantize_row), on a CPU with AVX2 and FMA.
    unsafe fn quantize_row(x: &[f32], out: &mut [u8]) -> (f32, i32) {
        // SAFETY: within this function's # Safety contract, which its caller upholds.
        unsafe { quantize_row(x, out) }
    }

    /// # Safety
    /// As [`Kernels::store_i8`](super::Kernels::store_i8), on a CPU with AVX2 and FMA.
    unsafe fn store_i8(
        acc: &[[i32; 16]; int8::MR],
        rows: usize,
        cols: usize,
        e: &int8::Epilogue<'_>,
        c: *mut f32,
        ldc: usize,
    ) {
        // SAFETY: within this function's # Safety contract, which its caller upholds.
        unsafe {
            store_i8(acc, rows, cols, e, c, ldc);
        }
    }
}

/// [`Kernels::quantize_row`]: the range in registers, then 32 values at a time
/// rounded (`vcvtps2dq`, half to even), narrowed with unsigned saturation (the clamp
/// to `0..=255`) and put back in order.
///
/// # Safety
/// As [`Kernels::quantize_row`], on a CPU with AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn quantize_row(x: &[f32], out: &mut [u8]) -> (f32, i32) {
    // SAFETY: within this function's # Safety contract, which its caller upholds.
    unsafe {
        use std::arch::x86_64::{
            _mm256_cvtps_epi32, _mm256_packs_epi32, _mm256_packus_epi16,
            _mm256_permutevar8x32_epi32,
        };
        assert!(out.len() >= x.len(), "output too short");
        let n = x.len();
        let p = x.as_ptr();
        let (mut lo, mut hi) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let body = n / 8 * 8;
        for i in (0..body).step_by(8) {
            let v = _mm256_loadu_ps(p.add(i));
            // The accumulator second: `vminps` returns its second operand when either is
            // NaN, so a NaN is skipped, as `f32::min` skips it.
            lo = _mm256_min_ps(v, lo);
            hi = _mm256_max_ps(v, hi);
        }
        let (mut l, mut h) = ([0.0f32; 8], [0.0f32; 8]);
        _mm256_storeu_ps(l.as_mut_ptr(), lo);
        _mm256_storeu_ps(h.as_mut_ptr(), hi);
        let lo = l.iter().chain(&x[body..]).fold(0.0f32, |m, &v| m.min(v));
        let hi = h.iter().chain(&x[body..]).fold(0.0f32, |m, &v| m.max(v));
        let (scale, inv, zero) = int8::row_scale(lo, hi);
        let (vinv, vzero) = (_mm256_set1_ps(inv), _mm256_set1_ps(zero));
        let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        let wide = n / 32 * 32;
        for i in (0..wide).step_by(32) {
            // Multiply, then add: unfused, as the scalar reference rounds.
            let q: [__m256i; 4] = std::array::from_fn(|j| {
                let v = _mm256_loadu_ps(p.add(i + 8 * j));
                _mm256_cvtps_epi32(_mm256_add_ps(_mm256_mul_ps(v, vinv), vzero))
            });
            let bytes = _mm256_packus_epi16(
                _mm256_packs_epi32(q[0], q[1]),
                _mm256_packs_epi32(q[2], q[3]),
            );
            _mm256_storeu_si256(
                out.as_mut_ptr().add(i).cast(),
                _mm256_permutevar8x32_epi32(bytes, order),
            );
        }
        for (q, &v) in out[wide..n].iter_mut().zip(&x[wide..]) {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            {
                *q = (v * inv + zero).round_ties_even().clamp(0.0, 255.0) as u8;
            }
        }
        #[allow(clippy::cast_possible_truncation)]
        (scale, zero as i32)
    }
}

/// [`Kernels::store_i8`]: the scaling, bias, residual and GELU on registers.
///
/// # Safety
/// As [`Kernels::store_i8`], on a CPU with AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn store_i8(
    acc: &[[i32; 16]; int8::MR],
    rows: usize,
    cols: usize,
    e: &int8::Epilogue<'_>,
    c: *mut f32,
    ldc: usize,
) {
    // SAFETY: within this function's # Safety contract, which its caller upholds.
    unsafe {
        use std::arch::x86_64::{
            _mm256_cvtepi32_ps, _mm256_maskload_epi32, _mm256_mullo_epi32, _mm256_sub_epi32,
        };
        assert!(
            rows <= e.scale_a.len() && rows <= e.zero_a.len(),
            "rows out of bounds"
        );
        assert!(
            cols <= e.sums.len() && cols <= e.scale_w.len(),
            "columns out of bounds"
        );
        assert!(e.bias.is_none_or(|b| cols <= b.len()), "bias too short");
        let masks = column_masks(cols);
        let halves = cols.div_ceil(8);
        let mut sums = [_mm256_setzero_si256(); 2];
        let mut scale_w = [_mm256_setzero_ps(); 2];
        let mut bias = [_mm256_setzero_ps(); 2];
        for h in 0..halves {
            sums[h] = _mm256_maskload_epi32(e.sums.as_ptr().add(8 * h), masks[h]);
            scale_w[h] = _mm256_maskload_ps(e.scale_w.as_ptr().add(8 * h), masks[h]);
            if let Some(b) = e.bias {
                bias[h] = _mm256_maskload_ps(b.as_ptr().add(8 * h), masks[h]);
            }
        }
        for (r, acc) in acc.iter().enumerate().take(rows) {
            let sa = _mm256_set1_ps(e.scale_a[r]);
            let za = _mm256_set1_epi32(e.zero_a[r]);
            let row = c.add(r * ldc);
            for h in 0..halves {
                let at = row.add(8 * h);
                let dot = _mm256_sub_epi32(
                    _mm256_loadu_si256(acc.as_ptr().add(8 * h).cast()),
                    _mm256_mullo_epi32(za, sums[h]),
                );
                let mut v = _mm256_mul_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(sa, scale_w[h]));
                if e.bias.is_some() {
                    v = _mm256_add_ps(v, bias[h]);
                }
                let full = 8 * h + 8 <= cols;
                if e.accumulate {
                    let old = if full {
                        _mm256_loadu_ps(at)
                    } else {
                        _mm256_maskload_ps(at, masks[h])
                    };
                    v = _mm256_add_ps(old, v);
                }
                if e.act == Act::Gelu {
                    v = gelu8(v);
                }
                if full {
                    _mm256_storeu_ps(at, v);
                } else {
                    _mm256_maskstore_ps(at, masks[h], v);
                }
            }
        }
    }
}

/// The sum of the 8 lanes.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn hsum(v: __m256) -> f32 {
    let mut out = [0.0f32; 8];
    // SAFETY: `out` holds the 8 floats stored.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) };
    ((out[0] + out[4]) + (out[1] + out[5])) + ((out[2] + out[6]) + (out[3] + out[7]))
}

/// `e^x` for 8 lanes: range reduction to `x = n ln2 + r`, a degree-6 Taylor
/// polynomial in `r` (relative error about 2e-7), `2^n` built in the exponent bits.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn exp8(x: __m256) -> __m256 {
    // Within these bounds `n` stays in -126..=127, a normal float's exponent.
    let x = _mm256_max_ps(
        _mm256_min_ps(x, _mm256_set1_ps(88.0)),
        _mm256_set1_ps(-87.3),
    );
    let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
        x,
        _mm256_set1_ps(std::f32::consts::LOG2_E),
    ));
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_145_75), x);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428_606_8e-6), r);
    let mut p = _mm256_set1_ps(1.0 / 720.0);
    for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
    }
    let two_n = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
        _mm256_cvtps_epi32(n),
        _mm256_set1_epi32(127),
    )));
    _mm256_mul_ps(p, two_n)
}

/// Exact (erf) GELU for 8 lanes: `0.5 x (1 + erf(x / √2))`, erf by Abramowitz and
/// Stegun 7.1.26 (absolute error below 1.5e-7).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn gelu8(x: __m256) -> __m256 {
    let sign_bit = _mm256_set1_ps(-0.0);
    let z = _mm256_mul_ps(x, _mm256_set1_ps(std::f32::consts::FRAC_1_SQRT_2));
    let az = _mm256_andnot_ps(sign_bit, z);
    let d = _mm256_fmadd_ps(_mm256_set1_ps(0.327_591_1), az, _mm256_set1_ps(1.0));
    // 1/d: the 12-bit estimate and one Newton step.
    let r = _mm256_rcp_ps(d);
    let t = _mm256_mul_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(2.0)));
    let mut poly = _mm256_set1_ps(1.061_405_4);
    for c in [-1.453_152_1, 1.421_413_8, -0.284_496_74, 0.254_829_6] {
        poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(c));
    }
    poly = _mm256_mul_ps(poly, t);
    let e = exp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), az), az));
    let erf_abs = _mm256_fnmadd_ps(poly, e, _mm256_set1_ps(1.0));
    let erf = _mm256_or_ps(erf_abs, _mm256_and_ps(z, sign_bit));
    _mm256_mul_ps(
        _mm256_mul_ps(_mm256_set1_ps(0.5), x),
        _mm256_add_ps(_mm256_set1_ps(1.0), erf),
    )
}

/// Four depths of row `r` of `a`, as one 32-bit lane to broadcast.
///
/// # Safety
/// `a + 4 * g .. a + 4 * g + 4` must be readable. The CPU must have AVX2.
#[inline]
unsafe fn quad(a: *const u8, g: usize) -> __m256i {
    // SAFETY: within this function's # Safety contract, which its caller upholds.
    unsafe {
        #[allow(clippy::cast_ptr_alignment)]
        let v = a.add(g * 4).cast::<i32>().read_unaligned();
        _mm256_set1_epi32(v)
    }
}

/// The rows of an int8 tile: missing rows read row 0 again (never stored).
///
/// # Safety
/// `a + r * lda` must stay inside `a`'s allocation for every `r < rows`.
#[inline]
unsafe fn row_pointers(a: *const u8, lda: usize, rows: usize) -> [*const u8; int8::MR] {
    // SAFETY: within this function's # Safety contract, which its caller upholds.
    unsafe { std::array::from_fn(|r| if r < rows { a.add(r * lda) } else { a }) }
}

/// Stores the accumulators of the first `rows` rows.
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn store_acc(s: &[[__m256i; 2]; int8::MR], rows: usize, acc: &mut [[i32; 16]; int8::MR]) {
    // SAFETY: within this function's # Safety contract, which its caller upholds.
    unsafe {
        for (s, acc) in s.iter().zip(acc.iter_mut()).take(rows) {
            _mm256_storeu_si256(acc.as_mut_ptr().cast(), s[0]);
            _mm256_storeu_si256(acc.as_mut_ptr().add(8).cast(), s[1]);
        }
    }
}

/// One int8 tile function: `step(sum, x, b)` adds the products of the broadcast quad
/// `x` of activations with the 8-column register `b` of weights to `sum`. The loop,
/// the loads and the stores are the same for every instruction.
macro_rules! dot_tile {
    ($(#[$doc:meta])* $name:ident, $features:literal, |$sum:ident, $x:ident, $b:ident| $step:expr) => {
        $(#[$doc])*
        /// # Safety
        /// As [`Kernels::dot_i8`], on a CPU with the instructions this tile is compiled for.
        #[target_feature(enable = $features)]
        unsafe fn $name(
            k: usize,
            a: *const u8,
            lda: usize,
            rows: usize,
            b: *const i8,
            acc: &mut [[i32; 16]; int8::MR],
        ) {
            // SAFETY: within this function's # Safety contract, which its caller upholds.
            unsafe {
                let rp = row_pointers(a, lda, rows);
                let mut s = [[_mm256_setzero_si256(); 2]; int8::MR];
                for g in 0..k / 4 {
                    let b0 = _mm256_loadu_si256(b.add(g * 64).cast());
                    let b1 = _mm256_loadu_si256(b.add(g * 64 + 32).cast());
                    for (s, &row) in s.iter_mut().zip(&rp) {
                        let $x = quad(row, g);
                        for (half, $b) in [b0, b1].into_iter().enumerate() {
                            let $sum = s[half];
                            s[half] = $step;
                        }
                    }
                }
                store_acc(&s, rows, acc);
            }
        }
    };
}

dot_tile!(
    /// The int8 tile with `vpmaddubsw` (unsigned x signed byte pairs to 16 bits; with
    /// weights of 7 bits they cannot saturate) and `vpmaddwd` (pairs of those to 32
    /// bits).
    dot_maddubs,
    "avx2,fma",
    |sum, x, b| _mm256_add_epi32(
        sum,
        _mm256_madd_epi16(_mm256_maddubs_epi16(x, b), _mm256_set1_epi16(1))
    )
);

dot_tile!(
    /// The int8 tile with AVX-VNNI's `vpdpbusd`.
    dot_avxvnni,
    "avx2,fma,avxvnni",
    |sum, x, b| std::arch::x86_64::_mm256_dpbusd_avx_epi32(sum, x, b)
);

dot_tile!(
    /// The int8 tile with AVX-512 VNNI's `vpdpbusd` on 256-bit registers.
    dot_avx512vnni,
    "avx2,fma,avx512vnni,avx512vl",
    |sum, x, b| std::arch::x86_64::_mm256_dpbusd_epi32(sum, x, b)
);
