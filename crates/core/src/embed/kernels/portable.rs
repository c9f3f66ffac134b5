//! The kernels in plain Rust, for any CPU: fixed-size tiles the compiler vectorises
//! for its baseline target (SSE2 on x86-64, NEON on aarch64). Also the reference the
//! other instruction sets are tested against. No `mul_add`: without FMA in the
//! baseline target it is a call to a software `fmaf`.

use super::{int8, Act, Kernels};

/// The portable kernels.
pub(crate) struct Portable;

/// Rows of one tile.
const MR: usize = 4;
/// Columns of one tile.
const NR: usize = 16;

impl Kernels for Portable {
    const MR: usize = MR;
    const NR: usize = NR;
    const KC: usize = 256;

    /// # Safety
    /// As [`Kernels::pack_a`](super::Kernels::pack_a) (plain Rust: its pointer and length conditions).
    unsafe fn pack_a(a: &[f32], lda: usize, mc: usize, k0: usize, kc: usize, out: &mut [f32]) {
        super::pack_a_scalar(MR, a, lda, mc, k0, kc, out);
    }

    /// # Safety
    /// As [`Kernels::tile`](super::Kernels::tile) (plain Rust: its pointer and length conditions).
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
            let mut acc = [[0.0f32; NR]; MR];
            for p in 0..kc {
                let bp: &[f32; NR] = &*b.add(p * NR).cast();
                let ap = a.add(p * a_step);
                for (r, acc) in acc.iter_mut().enumerate() {
                    // Rows past `rows` may not be readable in place (`a_step` > MR).
                    let x = if r < rows { *ap.add(r) } else { 0.0 };
                    for (acc, &b) in acc.iter_mut().zip(bp) {
                        *acc += x * b;
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate().take(rows) {
                let row = std::slice::from_raw_parts_mut(c.add(r * ldc), cols);
                for (j, out) in row.iter_mut().enumerate() {
                    let mut v = acc[j];
                    if load_c {
                        v += *out;
                    }
                    if let Some(bias) = bias {
                        v += *bias.add(j);
                    }
                    *out = v;
                }
                if act == Act::Gelu {
                    Self::gelu(row);
                }
            }
        }
    }

    /// # Safety
    /// As [`Kernels::softmax_columns`](super::Kernels::softmax_columns) (plain Rust: its pointer and length conditions).
    unsafe fn softmax_columns(m: &mut [f32], rows: usize, cols: usize, ld: usize, inv: &mut [f32]) {
        if rows == 0 || cols == 0 {
            return;
        }
        assert!((rows - 1) * ld + cols <= m.len(), "matrix out of bounds");
        let inv = &mut inv[..cols];
        let mut max = vec![f32::NEG_INFINITY; cols];
        for r in 0..rows {
            let row = &m[r * ld..r * ld + cols];
            max.iter_mut().zip(row).for_each(|(m, &x)| *m = m.max(x));
        }
        inv.fill(0.0);
        for r in 0..rows {
            let row = &mut m[r * ld..r * ld + cols];
            for ((x, &mx), sum) in row.iter_mut().zip(&max).zip(inv.iter_mut()) {
                *x = (*x - mx).exp();
                *sum += *x;
            }
        }
        inv.iter_mut().for_each(|s| *s = 1.0 / *s);
    }

    /// # Safety
    /// As [`Kernels::layer_norm_rows`](super::Kernels::layer_norm_rows) (plain Rust: its pointer and length conditions).
    unsafe fn layer_norm_rows(xs: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
        let h = gamma.len();
        #[allow(clippy::cast_precision_loss)]
        let inv_h = 1.0 / h as f32;
        for row in xs.chunks_exact_mut(h) {
            let mean = row.iter().sum::<f32>() * inv_h;
            let var = row.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() * inv_h;
            let inv_std = 1.0 / (var + eps).sqrt();
            for ((x, g), b) in row.iter_mut().zip(gamma).zip(beta) {
                *x = (*x - mean) * inv_std * g + b;
            }
        }
    }

    /// # Safety
    /// As [`Kernels::gelu`](super::Kernels::gelu) (plain Rust: its pointer and length conditions).
    unsafe fn gelu(xs: &mut [f32]) {
        xs.iter_mut().for_each(|x| *x = gelu(*x));
    }

    /// # Safety
    /// As [`Kernels::dot_i8`](super::Kernels::dot_i8) (plain Rust: its pointer and length conditions).
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
            int8::dot_i8_scalar(k, a, lda, rows, b, acc);
        }
    }
}

/// Exact GELU, `0.5 x (1 + erf(x / √2))`, with erf by Abramowitz and Stegun 7.1.26
/// (absolute error below 1.5e-7), as every instruction set computes it.
pub(crate) fn gelu(x: f32) -> f32 {
    let z = x * std::f32::consts::FRAC_1_SQRT_2;
    let az = z.abs();
    let t = 1.0 / (0.327_591_1 * az + 1.0);
    let mut poly = 1.061_405_4f32;
    for c in [-1.453_152_1, 1.421_413_8, -0.284_496_74, 0.254_829_6] {
        poly = poly * t + c;
    }
    let erf_abs = 1.0 - poly * t * (-az * az).exp();
    0.5 * x * (1.0 + erf_abs.copysign(z))
}
