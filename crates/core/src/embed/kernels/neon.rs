//! The kernels on aarch64 NEON (128-bit, on every aarch64 CPU: Apple Silicon,
//! Graviton, Ampere): an 8 x 8 single-precision tile of lane-indexed FMAs (sixteen
//! accumulators, two panel registers, two registers of `A`, of the thirty-two). The
//! element-wise steps and the int8 tile are the portable ones, which the compiler
//! vectorises with NEON on this target.

use std::arch::aarch64::{
    float32x4_t, vaddq_f32, vdupq_n_f32, vfmaq_laneq_f32, vld1q_f32, vst1q_f32,
};

use super::portable::Portable;
use super::{int8, Act, Kernels};

/// The NEON kernels.
pub(crate) struct Neon;

/// Rows of one tile.
const MR: usize = 8;
/// Columns of one tile (two 4-lane registers).
const NR: usize = 8;

/// Whether this CPU runs these kernels (every aarch64 CPU with Advanced SIMD).
pub(crate) fn available() -> bool {
    std::arch::is_aarch64_feature_detected!("neon")
}

impl Kernels for Neon {
    const MR: usize = MR;
    const NR: usize = NR;
    const KC: usize = 256;

    /// # Safety
    /// As [`Kernels::pack_a`](super::Kernels::pack_a), on a CPU with NEON (every aarch64 CPU has it).
    unsafe fn pack_a(a: &[f32], lda: usize, mc: usize, k0: usize, kc: usize, out: &mut [f32]) {
        super::pack_a_scalar(MR, a, lda, mc, k0, kc, out);
    }

    /// # Safety
    /// As [`Kernels::tile`](super::Kernels::tile), on a CPU with NEON (every aarch64 CPU has it).
    #[target_feature(enable = "neon")]
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
            let zero = vdupq_n_f32(0.0);
            let mut acc: [[float32x4_t; 2]; MR] = [[zero; 2]; MR];
            // Partial tiles go through a buffer: NEON has no masked loads and stores.
            let mut buf = [0.0f32; NR];
            let load = |row: *const f32, buf: &mut [f32; NR]| -> [float32x4_t; 2] {
                if cols == NR {
                    [vld1q_f32(row), vld1q_f32(row.add(4))]
                } else {
                    buf[..cols].copy_from_slice(std::slice::from_raw_parts(row, cols));
                    buf[cols..].fill(0.0);
                    [vld1q_f32(buf.as_ptr()), vld1q_f32(buf.as_ptr().add(4))]
                }
            };
            if load_c {
                for (r, acc) in acc.iter_mut().enumerate().take(rows) {
                    *acc = load(c.add(r * ldc), &mut buf);
                }
            }
            for p in 0..kc {
                let b0 = vld1q_f32(b.add(p * NR));
                let b1 = vld1q_f32(b.add(p * NR + 4));
                let ap = a.add(p * a_step);
                let (a0, a1) = (vld1q_f32(ap), vld1q_f32(ap.add(4)));
                macro_rules! row {
                    ($r:literal, $a:ident, $lane:literal) => {
                        acc[$r][0] = vfmaq_laneq_f32::<$lane>(acc[$r][0], b0, $a);
                        acc[$r][1] = vfmaq_laneq_f32::<$lane>(acc[$r][1], b1, $a);
                    };
                }
                row!(0, a0, 0);
                row!(1, a0, 1);
                row!(2, a0, 2);
                row!(3, a0, 3);
                row!(4, a1, 0);
                row!(5, a1, 1);
                row!(6, a1, 2);
                row!(7, a1, 3);
            }
            if let Some(bias) = bias {
                let bias = load(bias, &mut buf);
                for acc in &mut acc {
                    acc[0] = vaddq_f32(acc[0], bias[0]);
                    acc[1] = vaddq_f32(acc[1], bias[1]);
                }
            }
            for (r, acc) in acc.iter().enumerate().take(rows) {
                let row = c.add(r * ldc);
                if cols == NR {
                    vst1q_f32(row, acc[0]);
                    vst1q_f32(row.add(4), acc[1]);
                } else {
                    vst1q_f32(buf.as_mut_ptr(), acc[0]);
                    vst1q_f32(buf.as_mut_ptr().add(4), acc[1]);
                    std::slice::from_raw_parts_mut(row, cols).copy_from_slice(&buf[..cols]);
                }
                if act == Act::Gelu {
                    Portable::gelu(std::slice::from_raw_parts_mut(row, cols));
                }
            }
        }
    }

    /// # Safety
    /// As [`Kernels::softmax_columns`](super::Kernels::softmax_columns), on a CPU with NEON (every aarch64 CPU has it).
    unsafe fn softmax_columns(m: &mut [f32], rows: usize, cols: usize, ld: usize, inv: &mut [f32]) {
        // SAFETY: within this function's # Safety contract, which its caller upholds.
        unsafe {
            Portable::softmax_columns(m, rows, cols, ld, inv);
        }
    }

    /// # Safety
    /// As [`Kernels::layer_norm_rows`](super::Kernels::layer_norm_rows), on a CPU with NEON (every aarch64 CPU has it).
    unsafe fn layer_norm_rows(xs: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
        // SAFETY: within this function's # Safety contract, which its caller upholds.
        unsafe {
            Portable::layer_norm_rows(xs, gamma, beta, eps);
        }
    }

    /// # Safety
    /// As [`Kernels::gelu`](super::Kernels::gelu), on a CPU with NEON (every aarch64 CPU has it).
    unsafe fn gelu(xs: &mut [f32]) {
        // SAFETY: within this function's # Safety contract, which its caller upholds.
        unsafe {
            Portable::gelu(xs);
        }
    }

    /// # Safety
    /// As [`Kernels::dot_i8`](super::Kernels::dot_i8), on a CPU with NEON (every aarch64 CPU has it).
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
            Portable::dot_i8(k, a, lda, rows, b, acc);
        }
    }
}
