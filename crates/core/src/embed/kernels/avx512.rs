//! The kernels on AVX-512 (512-bit): a 14 x 32 single-precision tile, the vectorised
//! element-wise steps (GELU, softmax, layer norm), and the bfloat16 products, with
//! `vdpbf16ps` (AVX-512 BF16) or on AMX tiles.
//!
//! Why our own: candle's CPU matmul (the `gemm` crate) runs its AVX2 microkernel on
//! these machines and its GELU and softmax call scalar `erf`/`expf`; together they held
//! the model at a third of PyTorch's speed. These kernels use the full 512-bit width.
//!
//! Every function here is `unsafe` with `#[target_feature(enable = "avx512f")]`; the
//! caller checks [`available`] once, at model load. (AVX-512 intrinsics are stable
//! since Rust 1.89, hence trawl's minimum.)

use std::arch::x86_64::{
    __m512, _mm512_add_ps, _mm512_and_si512, _mm512_castps_si512, _mm512_castsi512_ps,
    _mm512_div_ps, _mm512_fmadd_ps, _mm512_fnmadd_ps, _mm512_loadu_ps, _mm512_mask_loadu_ps,
    _mm512_mask_storeu_ps, _mm512_max_ps, _mm512_min_ps, _mm512_mul_ps, _mm512_or_si512,
    _mm512_rcp14_ps, _mm512_reduce_add_ps, _mm512_roundscale_ps, _mm512_scalef_ps,
    _mm512_set1_epi32, _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps, _mm512_sub_ps,
    _MM_FROUND_NO_EXC, _MM_FROUND_TO_NEAREST_INT,
};

use super::{avx2, int8, Act, Kernels};

/// The AVX-512 kernels.
pub(crate) struct Avx512;

/// Rows of one microkernel tile.
const MR: usize = 14;
/// Columns of one microkernel tile (two 16-lane registers).
pub(crate) const NR: usize = 32;
/// Depth of one pass: an `MR x KC` micro-panel of `A` (7 KiB) stays in L1 while the
/// `KC x n` slice of `B` (under 1 MiB for this model's widths) streams from L2. Of
/// 96–384 and both loop orders, measured in the model, this was fastest.
const KC: usize = 128;
/// Depth, in bfloat16 pairs, of one pass of [`gemm_bf16`].
const KC_BF16: usize = 256;
/// Rows of `A` packed at once.
const MC: usize = MR * 8;

/// The lanes of a two-register (`NR`-column) tile that hold the first `cols` columns.
fn column_mask(cols: usize) -> u32 {
    if cols >= NR {
        u32::MAX
    } else {
        (1u32 << cols) - 1
    }
}

/// Whether this CPU runs these kernels.
pub(crate) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

/// Whether this CPU runs the bfloat16 product ([`gemm_bf16`]).
pub(crate) fn available_bf16() -> bool {
    available() && std::arch::is_x86_feature_detected!("avx512bf16")
}

/// Packs rows `0..mc`, columns `k0..k0 + kc` of `a` into `MR`-row micro-panels, each
/// column after column, zero-padding the last panel's missing rows.
///
/// Blocks of 16 columns are loaded row by row and transposed in registers: the
/// compiler's own vectorisation of this copy uses gathers, which cost more than the
/// product they feed on CPUs with the gather-data-sampling mitigation.
///
/// # Safety
/// As [`Kernels::pack_a`] (asserted here), on a CPU with AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn pack_a_avx512(a: &[f32], lda: usize, mc: usize, k0: usize, kc: usize, out: &mut [f32]) {
    // SAFETY: within this function's # Safety contract, which its caller upholds.
    unsafe {
        assert!(
            mc.div_ceil(MR) * MR * kc <= out.len(),
            "pack buffer too small"
        );
        assert!(
            mc == 0 || (mc - 1) * lda + k0 + kc <= a.len(),
            "A out of bounds"
        );
        const { assert!(MR <= 16) };
        let store = ((1u32 << MR) - 1) as u16;
        let mut ib = 0;
        while ib < mc {
            let rows = MR.min(mc - ib);
            let dst = out.as_mut_ptr().add(ib * kc);
            for p0 in (0..kc).step_by(16) {
                let width = 16.min(kc - p0);
                let src = a.as_ptr().add(ib * lda + k0 + p0);
                let columns = transpose16(load_block(src, lda, rows, width));
                for (i, column) in columns.iter().enumerate().take(width) {
                    _mm512_mask_storeu_ps(dst.add((p0 + i) * MR), store, *column);
                }
            }
            ib += MR;
        }
    }
}

/// Writes the transpose of `src`'s first `cols` rows (row stride `ld`), `depth`
/// columns each, into a panel of `depth` rows of `NR` (columns past `cols` zeroed).
///
/// # Safety
/// `src` must hold `cols` rows of `depth` floats at row stride `ld`, and `panel`
/// `depth * NR` floats (both asserted). The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn transpose_into(
    src: &[f32],
    ld: usize,
    cols: usize,
    depth: usize,
    panel: &mut [f32],
) {
    // SAFETY: within this function's # Safety contract, which its caller upholds.
    unsafe {
        assert!(cols <= NR && panel.len() >= depth * NR, "panel too small");
        assert!(
            cols == 0 || depth == 0 || (cols - 1) * ld + depth <= src.len(),
            "out of bounds"
        );
        for half in 0..NR / 16 {
            for d0 in (0..depth).step_by(16) {
                let width = 16.min(depth - d0);
                let first = half * 16;
                // Rows past `cols` load as zeros (no row at all for a half past them; the
                // pointer is then never read).
                let rows = cols.saturating_sub(first).min(16);
                let start = src.as_ptr().wrapping_add(first * ld + d0);
                let block = load_block(start, ld, rows, width);
                let rows = transpose16(block);
                for (kk, row) in rows.iter().enumerate().take(width) {
                    _mm512_storeu_ps(panel.as_mut_ptr().add((d0 + kk) * NR + half * 16), *row);
                }
            }
        }
    }
}

/// The first `width` (at most 16) values of `rows` (at most 16) rows starting at `src`,
/// row stride `ld`, as 16 registers; lanes and rows past those are zero.
///
/// # Safety
/// AVX-512F; the `rows x width` block must be readable.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn load_block(src: *const f32, ld: usize, rows: usize, width: usize) -> [__m512; 16] {
    // SAFETY: within this function's # Safety contract, which its caller upholds.
    unsafe {
        let load = ((1u32 << width) - 1) as u16;
        std::array::from_fn(|r| {
            if r < rows {
                _mm512_mask_loadu_ps(_mm512_setzero_ps(), load, src.add(r * ld))
            } else {
                _mm512_setzero_ps()
            }
        })
    }
}

/// The transpose of a 16 x 16 block held as 16 rows: 64 in-register shuffles.
#[target_feature(enable = "avx512f")]
#[inline]
fn transpose16(r: [__m512; 16]) -> [__m512; 16] {
    use std::arch::x86_64::{
        _mm512_castpd_ps, _mm512_castps_pd, _mm512_shuffle_f32x4, _mm512_unpackhi_pd,
        _mm512_unpackhi_ps, _mm512_unpacklo_pd, _mm512_unpacklo_ps,
    };
    // Pairs of rows interleaved, then pairs of pairs: u[4g + j] holds, in each
    // 128-bit lane l, column 4l + j of rows 4g..4g+4.
    let t: [__m512; 16] = std::array::from_fn(|i| {
        let (a, b) = (r[i / 2 * 2], r[i / 2 * 2 + 1]);
        if i % 2 == 0 {
            _mm512_unpacklo_ps(a, b)
        } else {
            _mm512_unpackhi_ps(a, b)
        }
    });
    let u: [__m512; 16] = std::array::from_fn(|i| {
        let (g, j) = (i / 4, i % 4);
        let (a, b) = (
            _mm512_castps_pd(t[4 * g + j / 2]),
            _mm512_castps_pd(t[4 * g + 2 + j / 2]),
        );
        _mm512_castpd_ps(if j % 2 == 0 {
            _mm512_unpacklo_pd(a, b)
        } else {
            _mm512_unpackhi_pd(a, b)
        })
    });
    // Lanes regrouped: column 4l + j gathers lane l of u[j], u[4 + j], u[8 + j], u[12 + j].
    let mut out = [_mm512_setzero_ps(); 16];
    for j in 0..4 {
        let v0 = _mm512_shuffle_f32x4::<0x88>(u[j], u[4 + j]);
        let v1 = _mm512_shuffle_f32x4::<0xDD>(u[j], u[4 + j]);
        let v2 = _mm512_shuffle_f32x4::<0x88>(u[8 + j], u[12 + j]);
        let v3 = _mm512_shuffle_f32x4::<0xDD>(u[8 + j], u[12 + j]);
        out[j] = _mm512_shuffle_f32x4::<0x88>(v0, v2);
        out[8 + j] = _mm512_shuffle_f32x4::<0xDD>(v0, v2);
        out[4 + j] = _mm512_shuffle_f32x4::<0x88>(v1, v3);
        out[12 + j] = _mm512_shuffle_f32x4::<0xDD>(v1, v3);
    }
    out
}

/// One `MR x NR` tile: `c[0..rows][cols in mask] = act(a · b (+ c) (+ bias))`. Row `r`
/// of step `p` of `a` is at `a[p * a_step + r]` (`a_step = MR` for a packed panel).
///
/// # Safety
/// `a` must be readable at `p * a_step + r` for `p < kc`, `r < MR`; `b` for `kc`
/// rows of `NR` floats; `c` writable (readable when loading it) for `rows` rows at
/// row stride `ldc` in the columns the masks select; `bias`, when given, readable in
/// those columns. The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel(
    kc: usize,
    a: *const f32,
    a_step: usize,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    rows: usize,
    mask: u32,
    load_c: bool,
    bias: Option<*const f32>,
    act: Act,
) {
    // SAFETY: within this function's # Safety contract, which its caller upholds.
    unsafe {
        let (m0, m1) = ((mask & 0xffff) as u16, (mask >> 16) as u16);
        let mut acc = [[_mm512_setzero_ps(); 2]; MR];
        if load_c {
            for (r, acc) in acc.iter_mut().enumerate() {
                if r < rows {
                    let row = c.add(r * ldc);
                    acc[0] = _mm512_mask_loadu_ps(acc[0], m0, row);
                    acc[1] = _mm512_mask_loadu_ps(acc[1], m1, row.add(16));
                }
            }
        }
        for p in 0..kc {
            let b0 = _mm512_loadu_ps(b.add(p * NR));
            let b1 = _mm512_loadu_ps(b.add(p * NR + 16));
            let ap = a.add(p * a_step);
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*ap.add(r));
                acc[0] = _mm512_fmadd_ps(x, b0, acc[0]);
                acc[1] = _mm512_fmadd_ps(x, b1, acc[1]);
            }
        }
        if let Some(bias) = bias {
            let b0 = _mm512_mask_loadu_ps(_mm512_setzero_ps(), m0, bias);
            let b1 = _mm512_mask_loadu_ps(_mm512_setzero_ps(), m1, bias.add(16));
            for acc in &mut acc {
                acc[0] = _mm512_add_ps(acc[0], b0);
                acc[1] = _mm512_add_ps(acc[1], b1);
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            if r < rows {
                let row = c.add(r * ldc);
                _mm512_mask_storeu_ps(row, m0, acc[0]);
                _mm512_mask_storeu_ps(row.add(16), m1, acc[1]);
            }
        }
        if act == Act::Gelu {
            gelu_tile(c, ldc, rows, m0, m1);
        }
    }
}

impl Kernels for Avx512 {
    const MR: usize = MR;
    const NR: usize = NR;
    const KC: usize = KC;

    /// # Safety
    /// As [`Kernels::pack_a`](super::Kernels::pack_a), on a CPU with AVX-512F.
    unsafe fn pack_a(a: &[f32], lda: usize, mc: usize, k0: usize, kc: usize, out: &mut [f32]) {
        // SAFETY: within this function's # Safety contract, which its caller upholds.
        unsafe {
            pack_a_avx512(a, lda, mc, k0, kc, out);
        }
    }

    /// # Safety
    /// As [`Kernels::tile`](super::Kernels::tile), on a CPU with AVX-512F.
    unsafe fn tile(
        kc: usize,
        a: *const f32,
        _a_rows: usize,
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
            kernel(
                kc,
                a,
                a_step,
                b,
                c,
                ldc,
                rows,
                column_mask(cols),
                load_c,
                bias,
                act,
            );
        }
    }

    /// # Safety
    /// As [`Kernels::softmax_columns`](super::Kernels::softmax_columns), on a CPU with AVX-512F.
    unsafe fn softmax_columns(m: &mut [f32], rows: usize, cols: usize, ld: usize, inv: &mut [f32]) {
        // SAFETY: within this function's # Safety contract, which its caller upholds.
        unsafe {
            softmax_columns(m, rows, cols, ld, inv);
        }
    }

    /// # Safety
    /// As [`Kernels::layer_norm_rows`](super::Kernels::layer_norm_rows), on a CPU with AVX-512F.
    unsafe fn layer_norm_rows(xs: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
        // SAFETY: within this function's # Safety contract, which its caller upholds.
        unsafe {
            layer_norm_rows(xs, gamma, beta, eps);
        }
    }

    /// # Safety
    /// As [`Kernels::gelu`](super::Kernels::gelu), on a CPU with AVX-512F.
    unsafe fn gelu(xs: &mut [f32]) {
        // SAFETY: within this function's # Safety contract, which its caller upholds.
        unsafe {
            gelu(xs);
        }
    }

    /// The 256-bit int8 tile (with AVX-512 VNNI where present): int8 products are
    /// not this path's fast case, bfloat16 is.
    ///
    /// # Safety
    /// As [`Kernels::dot_i8`](super::Kernels::dot_i8), on a CPU with AVX-512F.
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
            avx2::DotI8::detect().dot(k, a, lda, rows, b, acc);
        }
    }

    /// # Safety
    /// As [`Kernels::quantize_row`](super::Kernels::quantize_row), on a CPU with AVX-512F.
    unsafe fn quantize_row(x: &[f32], out: &mut [u8]) -> (f32, i32) {
        // SAFETY: within this function's # Safety contract, which its caller upholds.
        unsafe { avx2::quantize_row(x, out) }
    }

    /// # Safety
    /// As [`Kernels::store_i8`](super::Kernels::store_i8), on a CPU with AVX-512F.
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
            avx2::store_i8(acc, rows, cols, e, c, ldc);
        }
    }
}

/// GELU in place on `rows` rows (row stride `ldc`) of a 32-column tile, its columns
/// masked by `m0` and `m1`: run on the stored tile, still in L1, because applied to
/// the accumulators GELU's temporaries push them out of registers for the whole loop.
///
/// # Safety
/// `c` must be readable and writable for `rows` rows at row stride `ldc` in the
/// columns `m0` (0..16) and `m1` (16..32) select. The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline(never)]
unsafe fn gelu_tile(c: *mut f32, ldc: usize, rows: usize, m0: u16, m1: u16) {
    // SAFETY: within this function's # Safety contract, which its caller upholds.
    unsafe {
        for r in 0..rows {
            let row = c.add(r * ldc);
            let v0 = _mm512_mask_loadu_ps(_mm512_setzero_ps(), m0, row);
            let v1 = _mm512_mask_loadu_ps(_mm512_setzero_ps(), m1, row.add(16));
            _mm512_mask_storeu_ps(row, m0, gelu16(v0));
            _mm512_mask_storeu_ps(row.add(16), m1, gelu16(v1));
        }
    }
}

/// Rounds to the nearest bfloat16 (ties to even), as its 16 bits.
fn bf16(x: f32) -> u32 {
    let bits = x.to_bits();
    if x.is_nan() {
        return (bits >> 16) | 0x40;
    }
    (bits + 0x7fff + ((bits >> 16) & 1)) >> 16
}

/// Two values as one bfloat16 pair, the first in the low half (the order
/// `vdpbf16ps` multiplies in).
fn bf16_pair(lo: f32, hi: f32) -> u32 {
    bf16(lo) | (bf16(hi) << 16)
}

/// A weight matrix for [`gemm_bf16`]: like [`super::PackedB`], but each 32-bit lane holds the
/// bfloat16 pair of rows `2p` and `2p + 1` of one column.
#[derive(Default)]
pub(crate) struct PackedB16 {
    data: Vec<u32>,
    k: usize,
    n: usize,
}

impl PackedB16 {
    /// Packs the transpose of a row-major `n x k` matrix, rounded to bfloat16.
    pub(crate) fn transposed(w: &[f32], n: usize, k: usize) -> PackedB16 {
        assert!(w.len() >= n * k, "matrix out of bounds");
        let pairs = k.div_ceil(2);
        let panels = n.div_ceil(NR);
        let mut data = vec![0u32; panels * pairs * NR];
        for j in 0..n {
            let (panel, col) = (j / NR, j % NR);
            let row = &w[j * k..(j + 1) * k];
            for p in 0..pairs {
                let hi = row.get(2 * p + 1).copied().unwrap_or(0.0);
                data[(panel * pairs + p) * NR + col] = bf16_pair(row[2 * p], hi);
            }
        }
        PackedB16 { data, k, n }
    }

    /// Output columns.
    pub(crate) fn n(&self) -> usize {
        self.n
    }
}

/// [`super::gemm`] with bfloat16 inputs and f32 accumulation (`vdpbf16ps`, twice the
/// multiply-adds per instruction): `A` is rounded to bfloat16 as it is packed.
///
/// # Safety
/// The CPU must support AVX-512F and AVX-512 BF16 ([`available_bf16`]).
#[target_feature(enable = "avx512f,avx512bf16")]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_bf16(
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedB16,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    bias: Option<&[f32]>,
    act: Act,
    pack: &mut Vec<u32>,
) {
    // SAFETY: within this function's # Safety contract, which its caller upholds.
    unsafe {
        let (k, n) = (b.k, b.n);
        if m == 0 || n == 0 || k == 0 {
            return;
        }
        assert!((m - 1) * lda + k <= a.len(), "A out of bounds");
        assert!((m - 1) * ldc + n <= c.len(), "C out of bounds");
        assert!(bias.is_none_or(|b| b.len() >= n), "bias too short");
        let pairs = k.div_ceil(2);
        if pack.len() < MC * KC_BF16 {
            pack.resize(MC * KC_BF16, 0);
        }
        let panels = n.div_ceil(NR);
        let mut p0 = 0;
        while p0 < pairs {
            let pc = KC_BF16.min(pairs - p0);
            let first = p0 == 0;
            let last = p0 + pc == pairs;
            let mut i0 = 0;
            while i0 < m {
                let mc = MC.min(m - i0);
                pack_a_bf16(&a[i0 * lda..], lda, mc, k, p0, pc, pack);
                for p in 0..panels {
                    let j0 = p * NR;
                    let cols = NR.min(n - j0);
                    let mask = column_mask(cols);
                    let panel = b.data.as_ptr().add((p * pairs + p0) * NR);
                    let (bias, act) = if last {
                        (bias.map(|b| b.as_ptr().add(j0)), act)
                    } else {
                        (None, Act::None)
                    };
                    let mut ib = 0;
                    while ib < mc {
                        kernel_bf16(
                            pc,
                            pack.as_ptr().add(ib * pc),
                            panel,
                            c.as_mut_ptr().add((i0 + ib) * ldc + j0),
                            ldc,
                            MR.min(mc - ib),
                            mask,
                            accumulate || !first,
                            bias,
                            act,
                        );
                        ib += MR;
                    }
                }
                i0 += MC;
            }
            p0 += pc;
        }
    }
}

/// [`pack_a_avx512`] for [`gemm_bf16`]: pairs `p0..p0 + pc` of columns (`k` in all).
fn pack_a_bf16(a: &[f32], lda: usize, mc: usize, k: usize, p0: usize, pc: usize, out: &mut [u32]) {
    let mut ib = 0;
    while ib < mc {
        let rows = MR.min(mc - ib);
        for (r, row) in (0..MR).map(|r| (r, ib + r)) {
            let dst = &mut out[ib * pc..(ib + MR) * pc];
            if r >= rows {
                for p in 0..pc {
                    dst[p * MR + r] = 0;
                }
                continue;
            }
            let src = &a[row * lda..row * lda + k];
            for p in 0..pc {
                let kk = 2 * (p0 + p);
                let hi = if kk + 1 < k { src[kk + 1] } else { 0.0 };
                dst[p * MR + r] = bf16_pair(src[kk], hi);
            }
        }
        ib += MR;
    }
}

/// [`kernel`] on bfloat16 pairs.
///
/// # Safety
/// As [`kernel`], with `a` and `b` as bfloat16 pairs (`pc` steps of pairs). The
/// CPU must have AVX-512F and AVX-512 BF16.
#[target_feature(enable = "avx512f,avx512bf16")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel_bf16(
    pc: usize,
    a: *const u32,
    b: *const u32,
    c: *mut f32,
    ldc: usize,
    rows: usize,
    mask: u32,
    load_c: bool,
    bias: Option<*const f32>,
    act: Act,
) {
    // SAFETY: within this function's # Safety contract, which its caller upholds.
    unsafe {
        use std::arch::x86_64::{
            __m512bh, __m512i, _mm512_dpbf16_ps, _mm512_loadu_si512, _mm512_set1_epi32,
        };
        let (m0, m1) = ((mask & 0xffff) as u16, (mask >> 16) as u16);
        let mut acc = [[_mm512_setzero_ps(); 2]; MR];
        if load_c {
            for (r, acc) in acc.iter_mut().enumerate() {
                if r < rows {
                    let row = c.add(r * ldc);
                    acc[0] = _mm512_mask_loadu_ps(acc[0], m0, row);
                    acc[1] = _mm512_mask_loadu_ps(acc[1], m1, row.add(16));
                }
            }
        }
        for p in 0..pc {
            let b0 =
                std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512(b.add(p * NR).cast()));
            let b1 = std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512(
                b.add(p * NR + 16).cast(),
            ));
            let ap = a.add(p * MR);
            for (r, acc) in acc.iter_mut().enumerate() {
                #[allow(clippy::cast_possible_wrap)]
                let x =
                    std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi32(*ap.add(r) as i32));
                acc[0] = _mm512_dpbf16_ps(acc[0], x, b0);
                acc[1] = _mm512_dpbf16_ps(acc[1], x, b1);
            }
        }
        if let Some(bias) = bias {
            let b0 = _mm512_mask_loadu_ps(_mm512_setzero_ps(), m0, bias);
            let b1 = _mm512_mask_loadu_ps(_mm512_setzero_ps(), m1, bias.add(16));
            for acc in &mut acc {
                acc[0] = _mm512_add_ps(acc[0], b0);
                acc[1] = _mm512_add_ps(acc[1], b1);
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            if r < rows {
                let row = c.add(r * ldc);
                _mm512_mask_storeu_ps(row, m0, acc[0]);
                _mm512_mask_storeu_ps(row.add(16), m1, acc[1]);
            }
        }
        if act == Act::Gelu {
            gelu_tile(c, ldc, rows, m0, m1);
        }
    }
}

/// Whether AMX (tile registers with bfloat16 products) can run: the CPU has it and
/// Linux granted this process the tile state, which it asks for once.
pub(crate) fn available_amx() -> bool {
    static AMX: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AMX.get_or_init(|| {
        if !available_bf16() {
            return false;
        }
        let leaf7 = std::arch::x86_64::__cpuid_count(7, 0);
        let (amx_bf16, amx_tile) = (leaf7.edx & (1 << 22) != 0, leaf7.edx & (1 << 24) != 0);
        amx_bf16 && amx_tile && request_tile_state()
    })
}

#[cfg(target_os = "linux")]
fn request_tile_state() -> bool {
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: arch_prctl(ARCH_REQ_XCOMP_PERM) only changes which register state the
    // kernel saves for this process; it fails cleanly where AMX is unsupported.
    unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        ) == 0
    }
}

#[cfg(not(target_os = "linux"))]
fn request_tile_state() -> bool {
    false
}

/// The tile configuration of [`gemm_amx`]: eight tiles of 16 rows of 64 bytes
/// (C: tmm0-3, A: tmm4-5, B: tmm6-7).
#[repr(C, align(64))]
struct TileConfig {
    palette: u8,
    start_row: u8,
    reserved: [u8; 14],
    colsb: [u16; 16],
    rows: [u8; 16],
}

/// Whether [`gemm_amx`] takes a product of depth `k`.
pub(crate) fn amx_fits(k: usize) -> bool {
    k > 0 && k.is_multiple_of(32)
}

/// [`gemm_bf16`] on AMX tiles: 32 x 32 blocks of `C`, 32 deep at a time, four tile
/// products (`tdpbf16ps`) per step. `A` is rounded to bfloat16 once, into `abuf`.
///
/// # Safety
/// [`available_amx`] must have returned true (the CPU has AMX and the kernel granted
/// the tile state) and `amx_fits(b.k)`.
#[target_feature(enable = "avx512f,avx512bf16")]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_amx(
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedB16,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    bias: Option<&[f32]>,
    act: Act,
    abuf: &mut Vec<u16>,
) {
    // SAFETY: within this function's # Safety contract, which its caller upholds.
    unsafe {
        use std::arch::asm;
        use std::arch::x86_64::{__m256bh, __m256i, _mm256_storeu_si256, _mm512_cvtneps_pbh};
        let (k, n) = (b.k, b.n);
        if m == 0 || n == 0 {
            return;
        }
        assert!(amx_fits(k), "depth not a multiple of 32");
        assert!((m - 1) * lda + k <= a.len(), "A out of bounds");
        assert!((m - 1) * ldc + n <= c.len(), "C out of bounds");
        assert!(bias.is_none_or(|b| b.len() >= n), "bias too short");
        let mp = m.div_ceil(32) * 32;
        // Rows `m..mp` are never stored, so stale values there do no harm.
        if abuf.len() < mp * k {
            abuf.resize(mp * k, 0);
        }
        for i in 0..m {
            let src = a.as_ptr().add(i * lda);
            let dst = abuf.as_mut_ptr().add(i * k);
            for j in (0..k).step_by(16) {
                let v = _mm512_cvtneps_pbh(_mm512_loadu_ps(src.add(j)));
                _mm256_storeu_si256(
                    dst.add(j).cast(),
                    std::mem::transmute::<__m256bh, __m256i>(v),
                );
            }
        }
        let cfg = TileConfig {
            palette: 1,
            start_row: 0,
            reserved: [0; 14],
            colsb: [64, 64, 64, 64, 64, 64, 64, 64, 0, 0, 0, 0, 0, 0, 0, 0],
            rows: [16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0],
        };
        // Load the tile configuration: tmm0..tmm7 as 16 rows of 64 bytes (16 f32
        // accumulators, or 32 bf16 values). It reads only `cfg`.
        asm!("ldtilecfg [{}]", in(reg) &raw const cfg, options(nostack, readonly));
        let pairs = k / 2;
        let a_stride = k * 2;
        let b_stride = NR * 4;
        let mut tmp = [0f32; 32 * 32];
        for ib in (0..mp).step_by(32) {
            let rows = 32.min(m - ib.min(m));
            for p in 0..n.div_ceil(NR) {
                let j0 = p * NR;
                let cols = NR.min(n - j0);
                // Clear the four accumulator tiles: a 32 x 32 block of C.
                asm!(
                    "tilezero tmm0",
                    "tilezero tmm1",
                    "tilezero tmm2",
                    "tilezero tmm3",
                    options(nostack, nomem)
                );
                let panel = b.data.as_ptr().add(p * pairs * NR);
                for kb in 0..k / 32 {
                    let a0 = abuf.as_ptr().add(ib * k + kb * 32);
                    let a1 = a0.add(16 * k);
                    let b0 = panel.add(kb * 16 * NR);
                    let b1 = b0.add(16);
                    // Load two 16-row slices of A (32 depths each) and the two
                    // 16-column halves of B's panel for those depths (pairs of bf16 in
                    // each 32-bit lane), then multiply-accumulate all four products.
                    // Reads `abuf` and `b` only, within the bounds asserted above.
                    asm!(
                        "tileloadd tmm4, [{a0} + {sa}*1]",
                        "tileloadd tmm5, [{a1} + {sa}*1]",
                        "tileloadd tmm6, [{b0} + {sb}*1]",
                        "tileloadd tmm7, [{b1} + {sb}*1]",
                        "tdpbf16ps tmm0, tmm4, tmm6",
                        "tdpbf16ps tmm1, tmm4, tmm7",
                        "tdpbf16ps tmm2, tmm5, tmm6",
                        "tdpbf16ps tmm3, tmm5, tmm7",
                        a0 = in(reg) a0,
                        a1 = in(reg) a1,
                        b0 = in(reg) b0,
                        b1 = in(reg) b1,
                        sa = in(reg) a_stride,
                        sb = in(reg) b_stride,
                        options(nostack, readonly)
                    );
                }
                let t = tmp.as_mut_ptr();
                // Store the accumulators into `tmp`, a 32 x 32 f32 block (row
                // stride 128 bytes), for the masked epilogue below.
                asm!(
                    "tilestored [{t0} + {s}*1], tmm0",
                    "tilestored [{t1} + {s}*1], tmm1",
                    "tilestored [{t2} + {s}*1], tmm2",
                    "tilestored [{t3} + {s}*1], tmm3",
                    t0 = in(reg) t,
                    t1 = in(reg) t.add(16),
                    t2 = in(reg) t.add(16 * 32),
                    t3 = in(reg) t.add(16 * 32 + 16),
                    s = in(reg) 128usize,
                    options(nostack)
                );
                let mask = column_mask(cols);
                let (m0, m1) = ((mask & 0xffff) as u16, (mask >> 16) as u16);
                let zero = _mm512_setzero_ps();
                let (bias0, bias1) = match bias {
                    Some(bias) => (
                        _mm512_mask_loadu_ps(zero, m0, bias.as_ptr().add(j0)),
                        _mm512_mask_loadu_ps(zero, m1, bias.as_ptr().add(j0 + 16)),
                    ),
                    None => (zero, zero),
                };
                for r in 0..rows {
                    let row = c.as_mut_ptr().add((ib + r) * ldc + j0);
                    let mut v0 = _mm512_add_ps(_mm512_loadu_ps(t.add(r * 32)), bias0);
                    let mut v1 = _mm512_add_ps(_mm512_loadu_ps(t.add(r * 32 + 16)), bias1);
                    if accumulate {
                        v0 = _mm512_add_ps(v0, _mm512_mask_loadu_ps(zero, m0, row));
                        v1 = _mm512_add_ps(v1, _mm512_mask_loadu_ps(zero, m1, row.add(16)));
                    }
                    if act == Act::Gelu {
                        v0 = gelu16(v0);
                        v1 = gelu16(v1);
                    }
                    _mm512_mask_storeu_ps(row, m0, v0);
                    _mm512_mask_storeu_ps(row.add(16), m1, v1);
                }
            }
        }
        // Return the tiles to their initial state, so the OS need not save them.
        asm!("tilerelease", options(nostack, nomem));
    }
}

/// `e^x` for 16 lanes: range reduction to `x = n ln2 + r`, a degree-6 Taylor
/// polynomial in `r` (relative error about 2e-7), then `vscalefps` for `2^n`.
#[target_feature(enable = "avx512f")]
#[inline]
fn exp16(x: __m512) -> __m512 {
    let x = _mm512_max_ps(
        _mm512_min_ps(x, _mm512_set1_ps(88.7)),
        _mm512_set1_ps(-87.3),
    );
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)),
    );
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_145_75), x);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428_606_8e-6), r);
    let mut p = _mm512_set1_ps(1.0 / 720.0);
    for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
    }
    _mm512_scalef_ps(p, n)
}

/// Exact (erf) GELU for 16 lanes: `0.5 x (1 + erf(x / √2))`, erf by Abramowitz and
/// Stegun 7.1.26 (absolute error below 1.5e-7).
#[target_feature(enable = "avx512f")]
#[inline]
fn gelu16(x: __m512) -> __m512 {
    let z = _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::FRAC_1_SQRT_2));
    let az = abs16(z);
    let t = recip16(_mm512_fmadd_ps(
        _mm512_set1_ps(0.327_591_1),
        az,
        _mm512_set1_ps(1.0),
    ));
    let mut poly = _mm512_set1_ps(1.061_405_4);
    for c in [-1.453_152_1, 1.421_413_8, -0.284_496_74, 0.254_829_6] {
        poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(c));
    }
    poly = _mm512_mul_ps(poly, t);
    let e = exp16(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), az), az));
    let erf_abs = _mm512_fnmadd_ps(poly, e, _mm512_set1_ps(1.0));
    let erf = copysign16(erf_abs, z);
    _mm512_mul_ps(
        _mm512_mul_ps(_mm512_set1_ps(0.5), x),
        _mm512_add_ps(_mm512_set1_ps(1.0), erf),
    )
}

/// `|x|` for 16 lanes. (Bitwise float ops are AVX-512DQ; the integer ones are F.)
#[target_feature(enable = "avx512f")]
#[inline]
fn abs16(x: __m512) -> __m512 {
    _mm512_castsi512_ps(_mm512_and_si512(
        _mm512_castps_si512(x),
        _mm512_set1_epi32(i32::MAX),
    ))
}

/// `|magnitude|` with the sign of `sign`, for 16 lanes; `magnitude` must be >= 0.
#[target_feature(enable = "avx512f")]
#[inline]
fn copysign16(magnitude: __m512, sign: __m512) -> __m512 {
    _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_castps_si512(magnitude),
        _mm512_and_si512(_mm512_castps_si512(sign), _mm512_set1_epi32(i32::MIN)),
    ))
}

/// `1 / x` for 16 lanes: the 14-bit estimate and one Newton step (relative error
/// about 1e-8), a fraction of the cost of a division.
#[target_feature(enable = "avx512f")]
#[inline]
fn recip16(x: __m512) -> __m512 {
    let r = _mm512_rcp14_ps(x);
    // r (2 - x r)
    _mm512_mul_ps(r, _mm512_fnmadd_ps(x, r, _mm512_set1_ps(2.0)))
}

/// Exact GELU in place.
///
/// # Safety
/// AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn gelu(xs: &mut [f32]) {
    // SAFETY: within this function's # Safety contract, which its caller upholds.
    unsafe {
        let mut chunks = xs.chunks_exact_mut(16);
        for c in &mut chunks {
            _mm512_storeu_ps(c.as_mut_ptr(), gelu16(_mm512_loadu_ps(c.as_ptr())));
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let mask = ((1u32 << rest.len()) - 1) as u16;
            let v = _mm512_mask_loadu_ps(_mm512_setzero_ps(), mask, rest.as_ptr());
            _mm512_mask_storeu_ps(rest.as_mut_ptr(), mask, gelu16(v));
        }
    }
}

/// Softmax down each column of the `rows x cols` matrix `m` (row stride `ld`), left
/// unnormalised: each entry becomes `e^(x - column max)`, and `inv[j]` receives
/// `1 / Σ` of column `j`. Attention scores stored keys-by-queries have one query per
/// column, so all 16 lanes work on 16 queries, with no horizontal reductions; the
/// normalisation is applied to the (narrower) product with the values instead.
///
/// # Safety
/// AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn softmax_columns(m: &mut [f32], rows: usize, cols: usize, ld: usize, inv: &mut [f32]) {
    // SAFETY: within this function's # Safety contract, which its caller upholds.
    unsafe {
        if rows == 0 || cols == 0 {
            return;
        }
        assert!((rows - 1) * ld + cols <= m.len(), "matrix out of bounds");
        assert!(inv.len() >= cols, "inverse sums too short");
        let zero = _mm512_setzero_ps();
        let p = m.as_mut_ptr();
        for j0 in (0..cols).step_by(16) {
            let lanes = 16.min(cols - j0);
            let mask = ((1u32 << lanes) - 1) as u16;
            let mut mx = _mm512_set1_ps(f32::NEG_INFINITY);
            for r in 0..rows {
                mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(zero, mask, p.add(r * ld + j0)));
            }
            let mut sum = zero;
            for r in 0..rows {
                let at = p.add(r * ld + j0);
                let e = exp16(_mm512_sub_ps(_mm512_mask_loadu_ps(zero, mask, at), mx));
                _mm512_mask_storeu_ps(at, mask, e);
                sum = _mm512_add_ps(sum, e);
            }
            _mm512_mask_storeu_ps(
                inv.as_mut_ptr().add(j0),
                mask,
                _mm512_div_ps(_mm512_set1_ps(1.0), sum),
            );
        }
    }
}

/// Layer norm of each row of `xs` (row length `gamma.len()`, a multiple of 16), in
/// place.
///
/// # Safety
/// AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn layer_norm_rows(xs: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    // SAFETY: within this function's # Safety contract, which its caller upholds.
    unsafe {
        let h = gamma.len();
        assert!(h.is_multiple_of(16) && beta.len() == h, "layer norm width");
        let inv_h = 1.0 / h as f32;
        for row in xs.chunks_exact_mut(h) {
            let p = row.as_mut_ptr();
            let mut s = _mm512_setzero_ps();
            for i in (0..h).step_by(16) {
                s = _mm512_add_ps(s, _mm512_loadu_ps(p.add(i)));
            }
            let mean = _mm512_set1_ps(_mm512_reduce_add_ps(s) * inv_h);
            let mut v = _mm512_setzero_ps();
            for i in (0..h).step_by(16) {
                let d = _mm512_sub_ps(_mm512_loadu_ps(p.add(i)), mean);
                v = _mm512_fmadd_ps(d, d, v);
            }
            let inv_std = _mm512_set1_ps(1.0 / (_mm512_reduce_add_ps(v) * inv_h + eps).sqrt());
            for i in (0..h).step_by(16) {
                let d = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(p.add(i)), mean), inv_std);
                let y = _mm512_fmadd_ps(
                    d,
                    _mm512_loadu_ps(gamma.as_ptr().add(i)),
                    _mm512_loadu_ps(beta.as_ptr().add(i)),
                );
                _mm512_storeu_ps(p.add(i), y);
            }
        }
    }
}
