//! Every instruction set's kernels against plain reference computations. A path this
//! machine cannot run is reported as ignored, by name (see build.rs).

use super::int8::QuantScratch;
use super::*;

fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
        }
    }
    c
}

fn seq(len: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s % 2001) as f32 / 1000.0 - 1.0
        })
        .collect()
}

/// GELU in f64, the reference of every path.
fn gelu_f64(x: f64) -> f64 {
    0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2))
}

fn gemm_matches_the_naive_product<K: Kernels>() {
    for &(m, k, n) in &[
        (1, 1, 1),
        (13, 7, 33),
        (15, 300, 31),
        (130, 520, 70),
        (29, 32, 64),
        (7, 0, 5),
    ] {
        let a = seq(m * k, 1);
        let b = seq(k * n, 2);
        let bias = seq(n, 3);
        let mut packed = PackedB::default();
        packed.pack_from::<K>(&b, k, n, n, 1);
        let init = seq(m * n, 4);
        let mut want = naive(&a, &b, m, k, n);
        for (i, w) in want.iter_mut().enumerate() {
            *w += init[i] + bias[i % n];
        }
        let mut scratch = Vec::new();
        for act in [Act::None, Act::Gelu] {
            let mut c = init.clone();
            // SAFETY: the caller checked that the CPU runs K.
            unsafe {
                gemm::<K>(
                    m,
                    &a,
                    k,
                    &packed,
                    &mut c,
                    n,
                    true,
                    Some(&bias),
                    act,
                    &mut scratch,
                );
            }
            for i in 0..m * n {
                let w = f64::from(want[i]);
                let w = if act == Act::Gelu { gelu_f64(w) } else { w };
                let got = f64::from(c[i]);
                assert!(
                    (got - w).abs() < 1e-3,
                    "{m}x{k}x{n} {act:?} at {i}: {got} vs {w}"
                );
            }
        }
    }
}

fn transposed_left_operand_gives_the_scaled_product<K: Kernels>() {
    // m rows of C from an `at` wider than m (ldat > m), a partial last tile, and C
    // wider than the product (ldc > n).
    for &(m, k, n, ldat, ldc) in &[
        (1, 1, 1, 1, 1),
        (14, 9, 32, 14, 40),
        (117, 117, 32, 120, 384),
        (5, 40, 17, 7, 20),
    ] {
        let at = seq(k * ldat, 11);
        let b = seq(k * n, 12);
        let scale = seq(m, 13);
        let a: Vec<f32> = (0..m * k).map(|x| at[(x % k) * ldat + x / k]).collect();
        let want = naive(&a, &b, m, k, n);
        let mut packed = PackedB::default();
        packed.pack_whole::<K>(&b, k, n, n, 1);
        let mut c = seq(m * ldc, 14);
        let before = c.clone();
        let mut scratch = Vec::new();
        // SAFETY: the caller checked that the CPU runs K.
        unsafe {
            gemm_at::<K>(
                m,
                &at,
                ldat,
                &packed,
                &mut c,
                ldc,
                Some(&scale),
                &mut scratch,
            );
        }
        for i in 0..m {
            for j in 0..ldc {
                let (got, w) = (
                    c[i * ldc + j],
                    if j < n {
                        want[i * n + j] * scale[i]
                    } else {
                        before[i * ldc + j]
                    },
                );
                assert!(
                    (got - w).abs() < 1e-3,
                    "{m}x{k}x{n} at ({i}, {j}): {got} vs {w}"
                );
            }
        }
    }
}

fn elementwise_steps_match_libm<K: Kernels>() {
    let mut xs: Vec<f32> = (-400..=400).map(|i| i as f32 / 40.0).collect();
    let want: Vec<f64> = xs.iter().map(|&x| gelu_f64(f64::from(x))).collect();
    // SAFETY: the caller checked that the CPU runs K.
    unsafe { K::gelu(&mut xs) };
    for (g, w) in xs.iter().zip(&want) {
        assert!((f64::from(*g) - w).abs() < 1e-6, "gelu: {g} vs {w}");
    }
    // Softmax down the 37 columns of a 23 x 37 matrix stored with row stride 40.
    let (rows, cols, ld) = (23, 37, 40);
    let mut m: Vec<f32> = (0..rows * ld)
        .map(|i| (i as f32 * 0.37).sin() * 8.0)
        .collect();
    let orig = m.clone();
    let mut inv = vec![0.0; cols];
    // SAFETY: as above.
    unsafe { K::softmax_columns(&mut m, rows, cols, ld, &mut inv) };
    for j in 0..ld {
        let col = |v: &[f32]| {
            (0..rows)
                .map(|r| f64::from(v[r * ld + j]))
                .collect::<Vec<_>>()
        };
        if j >= cols {
            assert_eq!(col(&m), col(&orig), "column {j} is outside the matrix");
            continue;
        }
        let z: f64 = col(&orig).iter().map(|x| x.exp()).sum();
        for (g, x) in col(&m).iter().zip(col(&orig)) {
            let (g, w) = (g * f64::from(inv[j]), x.exp() / z);
            assert!((g - w).abs() < 1e-6 * w.max(1e-3), "column {j}: {g} vs {w}");
        }
    }
    // Layer norm of three rows of 48.
    let h = 48;
    let mut xs = seq(3 * h, 21);
    let (gamma, beta) = (seq(h, 22), seq(h, 23));
    let orig = xs.clone();
    // SAFETY: as above.
    unsafe { K::layer_norm_rows(&mut xs, &gamma, &beta, 1e-12) };
    for (row, got) in orig.chunks(h).zip(xs.chunks(h)) {
        let mean = row.iter().map(|&x| f64::from(x)).sum::<f64>() / h as f64;
        let var = row
            .iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / h as f64;
        for i in 0..h {
            let w = (f64::from(row[i]) - mean) / (var + 1e-12).sqrt() * f64::from(gamma[i])
                + f64::from(beta[i]);
            assert!(
                (f64::from(got[i]) - w).abs() < 1e-5,
                "layer norm: {} vs {w}",
                got[i]
            );
        }
    }
}

/// The int8 tile is exact: each path's integer dot products equal the scalar ones.
fn int8_tile_is_exact<K: Kernels>() {
    let w = seq(16 * 40, 31);
    let packed = PackedI8::transposed(&w, 16, 40);
    let kp = packed.kp();
    let a = seq(int8::MR * 40, 32);
    let mut s = QuantScratch::default();
    for rows in 1..=int8::MR {
        int8::quantize_rows::<K>(&a, 40, rows, 40, kp, &mut s);
        let (mut got, mut want) = ([[0; 16]; int8::MR], [[0; 16]; int8::MR]);
        let bytes = &s.bytes;
        // SAFETY: the caller checked that the CPU runs K; `rows` rows of `kp` bytes.
        unsafe {
            K::dot_i8(kp, bytes.as_ptr(), kp, rows, packed.panel(0), &mut got);
            int8::dot_i8_scalar(kp, bytes.as_ptr(), kp, rows, packed.panel(0), &mut want);
        }
        assert_eq!(got[..rows], want[..rows], "{rows} rows");
    }
}

/// The int8 product is within quantization error of the f32 one, and gives the same
/// numbers on every path (the integer part is exact; the rest is the same code).
fn int8_gemm_approximates_the_product<K: Kernels>() {
    for &(m, k, n) in &[(1, 4, 1), (13, 7, 33), (70, 384, 40), (9, 1536, 16)] {
        let a = seq(m * k, 41);
        let w = seq(n * k, 42);
        let bias = seq(n, 43);
        let packed = PackedI8::transposed(&w, n, k);
        let mut got = seq(m * n, 44);
        let init = got.clone();
        let mut s = QuantScratch::default();
        // SAFETY: the caller checked that the CPU runs K.
        unsafe {
            int8::gemm_i8::<K>(
                m,
                &a,
                k,
                &packed,
                &mut got,
                n,
                true,
                Some(&bias),
                Act::None,
                &mut s,
            );
        }
        let mut reference = init.clone();
        // SAFETY: portable runs anywhere.
        unsafe {
            int8::gemm_i8::<portable::Portable>(
                m,
                &a,
                k,
                &packed,
                &mut reference,
                n,
                true,
                Some(&bias),
                Act::None,
                &mut s,
            );
        }
        assert_eq!(
            got, reference,
            "{m}x{k}x{n}: differs from the portable path"
        );
        for i in 0..m {
            for j in 0..n {
                let exact: f32 = (0..k).map(|p| a[i * k + p] * w[j * k + p]).sum::<f32>()
                    + bias[j]
                    + init[i * n + j];
                // Error bound: each product off by at most half a step of each factor.
                let bound = (0..k)
                    .map(|p| (a[i * k + p].abs() / 63.0) + (w[j * k + p].abs() * 2.0 / 255.0))
                    .sum::<f32>();
                let g = got[i * n + j];
                assert!(
                    (g - exact).abs() <= bound,
                    "{m}x{k}x{n} ({i},{j}): {g} vs {exact}"
                );
            }
        }
    }
}

macro_rules! path_tests {
    ($name:ident, $kernels:ty, $path:expr, $cfg:meta, $why:literal) => {
        mod $name {
            use super::*;

            fn runs() -> bool {
                // A test binary built on another machine: the build script's answer is
                // stale. Nothing to run here.
                $path.runnable()
            }

            #[test]
            #[cfg_attr(not($cfg), ignore = $why)]
            fn gemm_matches_the_naive_product_on_ragged_shapes() {
                if runs() {
                    gemm_matches_the_naive_product::<$kernels>();
                }
            }

            #[test]
            #[cfg_attr(not($cfg), ignore = $why)]
            fn transposed_left_operand_gives_the_scaled_product() {
                if runs() {
                    super::transposed_left_operand_gives_the_scaled_product::<$kernels>();
                }
            }

            #[test]
            #[cfg_attr(not($cfg), ignore = $why)]
            fn gelu_softmax_and_layer_norm_match_libm() {
                if runs() {
                    elementwise_steps_match_libm::<$kernels>();
                }
            }

            #[test]
            #[cfg_attr(not($cfg), ignore = $why)]
            fn int8_tile_is_exact() {
                if runs() {
                    super::int8_tile_is_exact::<$kernels>();
                }
            }

            #[test]
            #[cfg_attr(not($cfg), ignore = $why)]
            fn int8_gemm_approximates_the_product_identically_on_every_path() {
                if runs() {
                    int8_gemm_approximates_the_product::<$kernels>();
                }
            }

            #[test]
            #[cfg_attr(not($cfg), ignore = $why)]
            fn this_cpu_runs_the_path() {
                assert!(
                    $path.runnable(),
                    "the build found {} but the CPU lacks it",
                    $path
                );
            }
        }
    };
}

path_tests!(
    portable_path,
    portable::Portable,
    CpuPath::Portable,
    all(),
    "never"
);
#[cfg(target_arch = "x86_64")]
path_tests!(
    avx2_path,
    avx2::Avx2,
    CpuPath::Avx2,
    all(trawl_cpu_avx2, trawl_cpu_fma),
    "CPU lacks AVX2 + FMA: avx2 path not run"
);
#[cfg(target_arch = "x86_64")]
path_tests!(
    avx512_path,
    avx512::Avx512,
    CpuPath::Avx512,
    trawl_cpu_avx512f,
    "CPU lacks AVX-512F: avx512 path not run"
);

#[cfg(target_arch = "aarch64")]
path_tests!(
    neon_path,
    neon::Neon,
    CpuPath::Neon,
    target_arch = "aarch64",
    "not an aarch64 CPU: neon path not run"
);

/// The paths of other architectures, listed as not run.
#[cfg(not(target_arch = "aarch64"))]
#[test]
#[ignore = "not an aarch64 CPU: neon path not run (scripts/test-aarch64.sh runs it under qemu)"]
fn neon_path() {}

#[cfg(not(target_arch = "x86_64"))]
#[test]
#[ignore = "not an x86-64 CPU: avx2, avx512 and avx512-amx paths not run"]
fn x86_paths() {}

/// Each int8 instruction (maddubs, AVX-VNNI, AVX-512 VNNI) gives the scalar sums.
#[cfg(target_arch = "x86_64")]
mod int8_instructions {
    use super::*;
    use avx2::DotI8;

    fn check(dot: DotI8) {
        if !dot.runnable() {
            return;
        }
        // Extreme bytes: 255 x ±63 in every pair, where vpmaddubsw would saturate
        // with 8-bit weights.
        let k = 64;
        let w: Vec<f32> = (0..16 * k)
            .map(|i| if i % 3 == 0 { -1.0 } else { 1.0 })
            .collect();
        let packed = PackedI8::transposed(&w, 16, k);
        let bytes: Vec<u8> = (0..int8::MR * k)
            .map(|i| if i % 5 == 0 { 0 } else { 255 })
            .collect();
        let (mut got, mut want) = ([[0; 16]; int8::MR], [[0; 16]; int8::MR]);
        // SAFETY: runnable() checked; MR rows of k bytes.
        unsafe {
            dot.dot(k, bytes.as_ptr(), k, int8::MR, packed.panel(0), &mut got);
            int8::dot_i8_scalar(k, bytes.as_ptr(), k, int8::MR, packed.panel(0), &mut want);
        }
        assert_eq!(got, want, "{dot:?}");
    }

    #[test]
    #[cfg_attr(
        not(all(trawl_cpu_avx2, trawl_cpu_fma)),
        ignore = "CPU lacks AVX2: its quantization not run"
    )]
    fn quantize_row_gives_the_scalar_bytes_nan_and_tails_included() {
        if !CpuPath::Avx2.runnable() {
            return;
        }
        for n in [1, 7, 31, 32, 33, 100] {
            let mut x = seq(n, 51);
            x[n / 2] = f32::NAN;
            x[0] = -5.0;
            let (mut got, mut want) = (vec![0u8; n], vec![0u8; n]);
            // SAFETY: AVX2 checked above.
            let a = unsafe { avx2::quantize_row(&x, &mut got) };
            let b = int8::quantize_row_scalar(&x, &mut want);
            assert_eq!((got.clone(), a), (want, b), "{n} values");
        }
    }

    #[test]
    #[cfg_attr(
        not(all(trawl_cpu_avx2, trawl_cpu_fma)),
        ignore = "CPU lacks AVX2: vpmaddubsw not run"
    )]
    fn maddubs_does_not_saturate() {
        check(DotI8::Maddubs);
    }

    #[test]
    #[cfg_attr(
        not(trawl_cpu_avx_vnni),
        ignore = "CPU lacks AVX-VNNI: its vpdpbusd not run"
    )]
    fn avx_vnni_gives_the_scalar_sums() {
        check(DotI8::AvxVnni);
    }

    #[test]
    #[cfg_attr(
        not(all(trawl_cpu_avx512_vnni, trawl_cpu_avx512vl)),
        ignore = "CPU lacks AVX-512 VNNI: its vpdpbusd not run"
    )]
    fn avx512_vnni_gives_the_scalar_sums() {
        check(DotI8::Avx512Vnni);
    }
}

#[test]
fn packing_a_transpose_matches_packing_its_explicit_transpose() {
    for &(n, k) in &[(1, 1), (5, 17), (33, 130), (70, 300)] {
        let w = seq(n * k, 15);
        let wt: Vec<f32> = (0..k * n).map(|x| w[(x % n) * k + x / n]).collect();
        let mut want = PackedB::default();
        want.pack_from::<portable::Portable>(&wt, k, n, n, 1);
        let got = PackedB::transposed::<portable::Portable>(&w, n, k);
        assert_eq!(got.data, want.data, "{n} x {k}");
        #[cfg(target_arch = "x86_64")]
        {
            let mut want = PackedB::default();
            want.pack_from::<avx512::Avx512>(&wt, k, n, n, 1);
            let got = PackedB::transposed::<avx512::Avx512>(&w, n, k);
            assert_eq!(got.data, want.data, "{n} x {k} (avx512 panels)");
        }
    }
}

#[test]
fn path_names_round_trip() {
    for p in CpuPath::ALL {
        assert_eq!(p.to_string().parse::<CpuPath>(), Ok(p));
    }
    assert!("sse9".parse::<CpuPath>().is_err());
    assert!(CpuPath::Portable.runnable());
    assert!(CpuPath::detect().runnable());
}

#[cfg(target_arch = "x86_64")]
mod bfloat16 {
    use super::*;

    #[test]
    #[cfg_attr(
        not(trawl_cpu_avx512_bf16),
        ignore = "CPU lacks AVX-512 BF16: bfloat16 product not run"
    )]
    fn bf16_gemm_is_within_bfloat16_rounding_of_the_product() {
        if !avx512::available_bf16() {
            return;
        }
        for &(m, k, n) in &[(1, 1, 1), (13, 7, 33), (15, 301, 31), (130, 1100, 70)] {
            let a = seq(m * k, 5);
            let w = seq(n * k, 6);
            let packed = avx512::PackedB16::transposed(&w, n, k);
            let mut c = vec![0.0; m * n];
            let mut scratch = Vec::new();
            // SAFETY: avx512::available_bf16() checked above.
            unsafe {
                avx512::gemm_bf16(
                    m,
                    &a,
                    k,
                    &packed,
                    &mut c,
                    n,
                    false,
                    None,
                    Act::None,
                    &mut scratch,
                );
            }
            for i in 0..m {
                for j in 0..n {
                    let exact: f32 = (0..k).map(|p| a[i * k + p] * w[j * k + p]).sum();
                    let scale: f32 = (0..k).map(|p| (a[i * k + p] * w[j * k + p]).abs()).sum();
                    let got = c[i * n + j];
                    assert!(
                        (got - exact).abs() <= 1e-2 * scale + 1e-6,
                        "{got} vs {exact}"
                    );
                }
            }
        }
    }

    #[test]
    #[cfg_attr(
        not(trawl_cpu_amx_bf16),
        ignore = "CPU lacks AMX-BF16: AMX product not run"
    )]
    fn amx_gemm_matches_the_bf16_product() {
        if !avx512::available_amx() {
            return;
        }
        for &(m, k, n) in &[(1, 32, 1), (13, 64, 33), (45, 384, 70), (70, 1536, 32)] {
            let a = seq(m * k, 7);
            let w = seq(n * k, 8);
            let bias = seq(n, 9);
            let packed = avx512::PackedB16::transposed(&w, n, k);
            let (mut want, mut got) = (seq(m * n, 10), seq(m * n, 10));
            let (mut s1, mut s2) = (Vec::new(), Vec::new());
            // The last shape also checks the fused GELU of both.
            let act = if k == 1536 { Act::Gelu } else { Act::None };
            // SAFETY: avx512::available_amx() checked above; k is a multiple of 32.
            unsafe {
                avx512::gemm_bf16(
                    m,
                    &a,
                    k,
                    &packed,
                    &mut want,
                    n,
                    true,
                    Some(&bias),
                    act,
                    &mut s1,
                );
                avx512::gemm_amx(
                    m,
                    &a,
                    k,
                    &packed,
                    &mut got,
                    n,
                    true,
                    Some(&bias),
                    act,
                    &mut s2,
                );
            }
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - w).abs() < 1e-3 * (1.0 + w.abs()),
                    "{m}x{k}x{n}: {g} vs {w}"
                );
            }
        }
    }
}

/// erf by its Taylor series, for the tests only (beyond 4, erf is ±1 within 2e-8).
fn erf(x: f64) -> f64 {
    if x.abs() > 4.0 {
        return x.signum();
    }
    let mut sum = 0.0;
    let mut term = x;
    let mut n = 0.0;
    while term.abs() > 1e-17 || n < 5.0 {
        sum += term / (2.0 * n + 1.0);
        n += 1.0;
        term *= -x * x / n;
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}
