//! The int8 product of the linear layers: weights quantized once per output channel,
//! activations per row as each product runs, dot products in exact 32-bit integers
//! on each instruction set's tile ([`Kernels::dot_i8`]), and the result scaled back
//! to f32 with the bias, residual and GELU applied.
//!
//! Activations are unsigned bytes with a zero point (`x ≈ s_a (q - z)`, `q` in
//! `0..=255`), weights signed with at most 7 bits of magnitude (`w ≈ s_w q`, `q` in
//! `-63..=63`). The narrower weights keep `vpmaddubsw`'s pairwise 16-bit sums
//! (`2 · 255 · 63 = 32130`) from saturating on CPUs without VNNI, and they are the
//! same on every CPU: the integer products do not depend on which instruction set
//! computed them.

use super::{Act, Kernels};

/// Rows of one int8 tile.
pub(crate) const MR: usize = 4;
/// Columns of one int8 tile and panel.
pub(crate) const NR: usize = 16;
/// Largest weight magnitude after quantization.
const WEIGHT_MAX: f32 = 63.0;
/// Rows of activations quantized at once (their bytes stay in L2 while every panel of
/// the weights passes over them).
const MC: usize = 64;

/// A linear layer's weight `n x k` for [`gemm_i8`]: quantized per output channel,
/// packed in panels of [`NR`] columns, each panel `k / 4` groups of `NR` 32-bit lanes
/// that hold four consecutive depths of one column.
#[derive(Default)]
pub(crate) struct PackedI8 {
    data: Vec<i8>,
    /// Per output channel: the weight is `scale · q`.
    scale: Vec<f32>,
    /// Per output channel: `Σ q` over the depth (the zero point's correction).
    sums: Vec<i32>,
    k: usize,
    /// `k` rounded up to a multiple of 4 (the padding is zero).
    kp: usize,
    n: usize,
}

impl PackedI8 {
    /// Quantizes and packs a row-major `n x k` weight (output channel by input).
    pub(crate) fn transposed(w: &[f32], n: usize, k: usize) -> PackedI8 {
        assert!(w.len() >= n * k, "matrix out of bounds");
        let kp = k.div_ceil(4) * 4;
        let panels = n.div_ceil(NR);
        let mut data = vec![0i8; panels * kp * NR];
        let mut scale = vec![0.0; n];
        let mut sums = vec![0; n];
        for j in 0..n {
            let row = &w[j * k..(j + 1) * k];
            let max = row.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            let s = if max > 0.0 { max / WEIGHT_MAX } else { 1.0 };
            scale[j] = s;
            let (panel, col) = (j / NR, j % NR);
            for (p, &x) in row.iter().enumerate() {
                #[allow(clippy::cast_possible_truncation)]
                let q = (x / s).round().clamp(-WEIGHT_MAX, WEIGHT_MAX) as i8;
                data[panel * kp * NR + (p / 4) * 4 * NR + col * 4 + p % 4] = q;
                sums[j] += i32::from(q);
            }
        }
        PackedI8 {
            data,
            scale,
            sums,
            k,
            kp,
            n,
        }
    }

    /// Output columns.
    pub(crate) fn n(&self) -> usize {
        self.n
    }

    /// Depth, rounded up to a multiple of 4.
    #[cfg(test)]
    pub(crate) fn kp(&self) -> usize {
        self.kp
    }

    /// The panel of columns `16 p..16 p + 16`.
    pub(crate) fn panel(&self, p: usize) -> *const i8 {
        self.data[p * self.kp * NR..].as_ptr()
    }
}

/// Scratch of [`gemm_i8`]: quantized rows and their scales.
#[derive(Default)]
pub(crate) struct QuantScratch {
    pub(super) bytes: Vec<u8>,
    scale: Vec<f32>,
    zero: Vec<i32>,
}

/// Quantizes `rows` rows of `a` (row stride `lda`, `k` values each) with `K` into
/// `s.bytes` (row stride `kp`, the padding zero), with each row's scale and zero point.
pub(crate) fn quantize_rows<K: Kernels>(
    a: &[f32],
    lda: usize,
    rows: usize,
    k: usize,
    kp: usize,
    s: &mut QuantScratch,
) {
    s.bytes.resize(rows * kp, 0);
    s.scale.resize(rows, 0.0);
    s.zero.resize(rows, 0);
    for r in 0..rows {
        let out = &mut s.bytes[r * kp..(r + 1) * kp];
        // SAFETY: `quantize_rows` is only reached from products on `K`, which the
        // caller checked the CPU runs.
        let (scale, zero) = unsafe { K::quantize_row(&a[r * lda..r * lda + k], &mut out[..k]) };
        out[k..].fill(0);
        s.scale[r] = scale;
        s.zero[r] = zero;
    }
}

/// The scale and zero point of a row whose smallest value is `lo <= 0` and largest
/// `hi >= 0`, and the scale's inverse: the same arithmetic on every path.
pub(crate) fn row_scale(lo: f32, hi: f32) -> (f32, f32, f32) {
    let scale = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
    let inv = 1.0 / scale;
    let zero = (-lo * inv).round_ties_even().clamp(0.0, 255.0);
    (scale, inv, zero)
}

/// [`Kernels::quantize_row`] in plain Rust: `q = round(x / scale) + zero`, rounded
/// half to even, in `0..=255` (a multiply then an add, unfused, as every path does).
pub(crate) fn quantize_row_scalar(x: &[f32], out: &mut [u8]) -> (f32, i32) {
    let (lo, hi) = x
        .iter()
        .fold((0.0f32, 0.0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let (scale, inv, zero) = row_scale(lo, hi);
    for (q, &v) in out.iter_mut().zip(x) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        {
            *q = (v * inv + zero).round_ties_even().clamp(0.0, 255.0) as u8;
        }
    }
    #[allow(clippy::cast_possible_truncation)]
    (scale, zero as i32)
}

/// What an int8 tile does with its integer sums: for row `r` and column `j`,
/// `c = act(s_a[r] · s_w[j] · (acc - z_a[r] · Σw[j]) + bias[j] (+ c))`. The slices
/// start at the tile's first row and column.
pub(crate) struct Epilogue<'a> {
    /// Per row: the activations' scale.
    pub(crate) scale_a: &'a [f32],
    /// Per row: the activations' zero point.
    pub(crate) zero_a: &'a [i32],
    /// Per column: the sum of the quantized weights.
    pub(crate) sums: &'a [i32],
    /// Per column: the weights' scale.
    pub(crate) scale_w: &'a [f32],
    /// Per column.
    pub(crate) bias: Option<&'a [f32]>,
    /// Add to what `c` holds.
    pub(crate) accumulate: bool,
    /// Applied last.
    pub(crate) act: Act,
}

/// [`Kernels::store_i8`] in plain Rust.
///
/// # Safety
/// `c` must hold `rows` rows of `cols` values (row stride `ldc`); the slices of `e`
/// at least `rows` and `cols` entries; `K` must run on this CPU.
pub(crate) unsafe fn store_i8_scalar<K: Kernels>(
    acc: &[[i32; NR]; MR],
    rows: usize,
    cols: usize,
    e: &Epilogue<'_>,
    c: *mut f32,
    ldc: usize,
) {
    // SAFETY: within this function's # Safety contract, which its caller upholds.
    unsafe {
        for (r, acc) in acc.iter().enumerate().take(rows) {
            let (sa, za) = (e.scale_a[r], e.zero_a[r]);
            let out = std::slice::from_raw_parts_mut(c.add(r * ldc), cols);
            for (j, o) in out.iter_mut().enumerate() {
                let dot = acc[j] - za * e.sums[j];
                #[allow(clippy::cast_precision_loss)]
                let mut v = dot as f32 * (sa * e.scale_w[j]);
                if let Some(bias) = e.bias {
                    v += bias[j];
                }
                *o = if e.accumulate { *o + v } else { v };
            }
            if e.act == Act::Gelu {
                K::gelu(out);
            }
        }
    }
}

/// `C = act(A · Wᵀ (+ C if accumulate) (+ bias))` with `W` quantized to int8 and `A`
/// quantized per row as it is read; `A` is `m x k` (row stride `lda`), `C` `m x n`
/// (row stride `ldc`).
///
/// # Safety
/// The CPU must run `K`'s instructions.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_i8<K: Kernels>(
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedI8,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    bias: Option<&[f32]>,
    act: Act,
    s: &mut QuantScratch,
) {
    // SAFETY: within this function's # Safety contract, which its caller upholds.
    unsafe {
        let (k, kp, n) = (b.k, b.kp, b.n);
        if m == 0 || n == 0 {
            return;
        }
        assert!(k == 0 || (m - 1) * lda + k <= a.len(), "A out of bounds");
        assert!((m - 1) * ldc + n <= c.len(), "C out of bounds");
        assert!(bias.is_none_or(|b| b.len() >= n), "bias too short");
        let mut acc = [[0i32; NR]; MR];
        let mut i0 = 0;
        while i0 < m {
            let mc = MC.min(m - i0);
            quantize_rows::<K>(&a[i0 * lda..], lda, mc, k, kp, s);
            for p in 0..n.div_ceil(NR) {
                let j0 = p * NR;
                let cols = NR.min(n - j0);
                let mut ib = 0;
                while ib < mc {
                    let rows = MR.min(mc - ib);
                    K::dot_i8(
                        kp,
                        s.bytes[ib * kp..].as_ptr(),
                        kp,
                        rows,
                        b.panel(p),
                        &mut acc,
                    );
                    let e = Epilogue {
                        scale_a: &s.scale[ib..],
                        zero_a: &s.zero[ib..],
                        sums: &b.sums[j0..],
                        scale_w: &b.scale[j0..],
                        bias: bias.map(|b| &b[j0..]),
                        accumulate,
                        act,
                    };
                    let out = c[(i0 + ib) * ldc + j0..].as_mut_ptr();
                    K::store_i8(&acc, rows, cols, &e, out, ldc);
                    ib += MR;
                }
            }
            i0 += mc;
        }
    }
}

/// The int8 tile in plain Rust: the reference of every instruction set's
/// [`Kernels::dot_i8`], and the portable path's.
///
/// # Safety
/// `a` must hold `rows` rows of `k` bytes (row stride `lda`); `b` one panel of `k`
/// depths.
pub(crate) unsafe fn dot_i8_scalar(
    k: usize,
    a: *const u8,
    lda: usize,
    rows: usize,
    b: *const i8,
    acc: &mut [[i32; NR]; MR],
) {
    // SAFETY: within this function's # Safety contract, which its caller upholds.
    unsafe {
        let b = std::slice::from_raw_parts(b, k * NR);
        for (r, acc) in acc.iter_mut().enumerate().take(rows) {
            let a = std::slice::from_raw_parts(a.add(r * lda), k);
            // Sixteen 32-bit sums in a fixed-size array, one depth at a time: a loop the
            // compiler turns into vector multiply-adds across the columns.
            let mut sums = [0i32; NR];
            for (g, quad) in a.chunks_exact(4).enumerate() {
                let lanes: &[i8; 4 * NR] = b[g * 4 * NR..(g + 1) * 4 * NR].try_into().unwrap();
                for (t, &x) in quad.iter().enumerate() {
                    let x = i32::from(x);
                    for (j, s) in sums.iter_mut().enumerate() {
                        *s += x * i32::from(lanes[j * 4 + t]);
                    }
                }
            }
            *acc = sums;
        }
    }
}
