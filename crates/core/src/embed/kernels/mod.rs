//! The CPU kernels of the BERT forward pass, one module per instruction set behind one
//! trait ([`Kernels`]), and the run-time choice between them ([`CpuPath`]).
//!
//! Each instruction set supplies a matrix-multiply tile (register-blocked `MR x NR`),
//! the packing of the left operand, the element-wise steps (GELU, softmax, layer norm)
//! and an int8 product; the blocking of the products around the tiles ([`gemm`],
//! [`gemm_at`]) and the packed formats are written once, here. Adding an instruction
//! set (NEON, say) means one file implementing [`Kernels`] and one arm in
//! [`CpuPath`].

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
pub(crate) mod int8;
#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;
pub(crate) mod portable;

pub(crate) use int8::PackedI8;

use super::Precision;

/// What a product applies to its result after the bias.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Act {
    /// Nothing.
    None,
    /// Exact (erf) GELU.
    Gelu,
}

/// The kernels of one instruction set.
///
/// Every method is `unsafe`: the caller guarantees that the CPU runs the instruction
/// set (checked once, when the model is loaded, through [`CpuPath::runnable`]).
pub(crate) trait Kernels: Sized {
    /// Rows of one tile.
    const MR: usize;
    /// Columns of one tile, and the panel width of [`PackedB`].
    const NR: usize;
    /// Depth of one pass over a packed block of `B`.
    const KC: usize;

    /// Packs rows `0..mc`, columns `k0..k0 + kc` of `a` (row stride `lda`) into
    /// `MR`-row micro-panels, each column after column (`out[p * MR + r]`), the last
    /// panel's missing rows zero.
    ///
    /// # Safety
    /// `out` must hold `mc.div_ceil(MR) * MR * kc` floats and `a` rows `0..mc` of at
    /// least `k0 + kc` columns (the arch paths assert both). The CPU must run this
    /// instruction set.
    unsafe fn pack_a(a: &[f32], lda: usize, mc: usize, k0: usize, kc: usize, out: &mut [f32]);

    /// Whether [`Kernels::tile`] reads `A` in place, row-major (`a_rows` > 1), so that
    /// [`gemm`] need not pack it.
    const DIRECT_A: bool = false;

    /// One tile: `c[0..rows][0..cols] = act(a · b (+ c if load_c) (+ bias))`. Row `r` of
    /// step `p` of `a` is at `a[r * a_rows + p * a_step]` (`a_rows` is 1 unless
    /// [`Kernels::DIRECT_A`]; rows past `rows` are read only where `a_rows` is 1);
    /// `b` is one `NR`-wide panel of `kc` rows; `c` has row stride `ldc`.
    ///
    /// # Safety
    /// `a` must be readable at `r * a_rows + p * a_step` for every step `p < kc` and
    /// every row it reads (`r < rows`, or `r < MR` where `a_rows` is 1); `b` for `kc`
    /// rows of `NR` floats; `c` writable (and readable when `load_c`) for `rows` rows
    /// of `cols <= NR` values at row stride `ldc`; `bias`, when given, readable for
    /// `cols` floats. The CPU must run this instruction set.
    #[allow(clippy::too_many_arguments)]
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
    );

    /// Softmax down each column of the `rows x cols` matrix `m` (row stride `ld`),
    /// left unnormalised: each entry becomes `e^(x - column max)`, and `inv[j]`
    /// receives `1 / Σ` of column `j`.
    ///
    /// # Safety
    /// `m` must hold `rows` rows at stride `ld` with `cols <= ld` columns, and `inv`
    /// at least `cols` entries. The CPU must run this instruction set.
    unsafe fn softmax_columns(m: &mut [f32], rows: usize, cols: usize, ld: usize, inv: &mut [f32]);

    /// Layer norm of each row of `xs` (row length `gamma.len()`), in place.
    ///
    /// # Safety
    /// `gamma` and `beta` have the row length, which divides `xs.len()`. The CPU must
    /// run this instruction set.
    unsafe fn layer_norm_rows(xs: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32);

    /// Exact GELU in place.
    ///
    /// # Safety
    /// The CPU must run this instruction set.
    unsafe fn gelu(xs: &mut [f32]);

    /// Quantizes one row of activations to bytes (`out` as long as `x`), returning its
    /// scale and zero point; every path gives the bytes of
    /// [`int8::quantize_row_scalar`].
    ///
    /// # Safety
    /// `out` must be at least as long as `x`. The CPU must run this instruction set.
    unsafe fn quantize_row(x: &[f32], out: &mut [u8]) -> (f32, i32) {
        int8::quantize_row_scalar(x, out)
    }

    /// Stores an int8 tile's sums (`rows x cols` of `acc`) to `c` (row stride `ldc`)
    /// through `e`.
    ///
    /// # Safety
    /// `c` must be writable (and readable when `e.accumulate`) for `rows` rows of
    /// `cols` values at row stride `ldc`; the slices of `e` hold at least `rows`
    /// (`scale_a`, `zero_a`) and `cols` (`scale_w`, `sums`, `bias`) entries. The CPU
    /// must run this instruction set.
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
            int8::store_i8_scalar::<Self>(acc, rows, cols, e, c, ldc);
        }
    }

    /// `k`-deep dot products of `rows` (at most [`int8::MR`]) quantized rows of `A`
    /// (`a` with row stride `lda` bytes, `k` a multiple of 4) with the 16 columns of
    /// one panel of a [`PackedI8`] (`b`, 4 depths of one column in each 32-bit lane):
    /// `acc[r][j] = Σ a[r][p] · b[p][j]`, exact in 32-bit integers.
    ///
    /// # Safety
    /// `a` must be readable for `rows` rows of `k` bytes at row stride `lda`, and `b`
    /// for `k * 16` bytes; `k` is a multiple of 4. The CPU must run this instruction
    /// set.
    unsafe fn dot_i8(
        k: usize,
        a: *const u8,
        lda: usize,
        rows: usize,
        b: *const i8,
        acc: &mut [[i32; 16]; int8::MR],
    );
}

/// The right-hand matrix of a product, `k x n`, packed in blocks of `kc` rows; each
/// block holds the `nr`-column panels one after another, each panel row after row,
/// zero-padded to a multiple of `nr` columns. A product reads one block at a time,
/// panel after panel, so its reads of `B` are one sequential stream.
#[derive(Default)]
pub(crate) struct PackedB {
    pub(crate) data: Vec<f32>,
    pub(crate) k: usize,
    pub(crate) n: usize,
    pub(crate) kc: usize,
    pub(crate) nr: usize,
}

impl PackedB {
    /// Packs `B[kk][j] = src[kk * row_stride + j * col_stride]` for the tiles of `K`,
    /// in blocks of `K::KC` rows, reusing the buffer.
    pub(crate) fn pack_from<K: Kernels>(
        &mut self,
        src: &[f32],
        k: usize,
        n: usize,
        row_stride: usize,
        col_stride: usize,
    ) {
        self.pack_blocks(src, k, n, row_stride, col_stride, K::NR, K::KC);
    }

    /// [`PackedB::pack_from`] in one block, as [`gemm_at`] reads it.
    pub(crate) fn pack_whole<K: Kernels>(
        &mut self,
        src: &[f32],
        k: usize,
        n: usize,
        row_stride: usize,
        col_stride: usize,
    ) {
        self.pack_blocks(src, k, n, row_stride, col_stride, K::NR, k.max(1));
    }

    /// Packs the transpose of a row-major `n x k` matrix (a linear layer's weight),
    /// so that a product computes `x · Wᵀ`.
    pub(crate) fn transposed<K: Kernels>(w: &[f32], n: usize, k: usize) -> PackedB {
        let mut b = PackedB::default();
        b.pack_from::<K>(w, k, n, 1, k);
        b
    }

    #[allow(clippy::too_many_arguments)]
    fn pack_blocks(
        &mut self,
        src: &[f32],
        k: usize,
        n: usize,
        row_stride: usize,
        col_stride: usize,
        nr: usize,
        kc: usize,
    ) {
        assert!(
            k == 0 || n == 0 || (k - 1) * row_stride + (n - 1) * col_stride < src.len(),
            "matrix out of bounds"
        );
        let panels = n.div_ceil(nr);
        (self.k, self.n, self.kc, self.nr) = (k, n, kc, nr);
        // Every entry is written below, padding included: no need to clear.
        self.data.resize(panels * k * nr, 0.0);
        for k0 in (0..k).step_by(kc) {
            let depth = kc.min(k - k0);
            for p in 0..panels {
                let j0 = p * nr;
                let cols = nr.min(n - j0);
                let at = self.panel_offset(k0, depth, p);
                let panel = &mut self.data[at..at + depth * nr];
                if col_stride == 1 {
                    for (kk, row) in panel.chunks_exact_mut(nr).enumerate() {
                        let s = (k0 + kk) * row_stride + j0;
                        row[..cols].copy_from_slice(&src[s..s + cols]);
                        row[cols..].fill(0.0);
                    }
                    continue;
                }
                #[cfg(target_arch = "x86_64")]
                if row_stride == 1 && nr == avx512::NR && avx512::available() {
                    // A transpose (attention's queries): 16 x 16 blocks in registers.
                    // SAFETY: AVX-512F checked; the loads stay inside the bounds
                    // asserted above (masked to `cols` columns and `depth` rows).
                    unsafe {
                        avx512::transpose_into(
                            &src[j0 * col_stride + k0..],
                            col_stride,
                            cols,
                            depth,
                            panel,
                        );
                    }
                    continue;
                }
                for j in 0..cols {
                    let base = (j0 + j) * col_stride + k0 * row_stride;
                    for kk in 0..depth {
                        panel[kk * nr + j] = src[base + kk * row_stride];
                    }
                }
                if cols < nr {
                    for row in panel.chunks_exact_mut(nr) {
                        row[cols..].fill(0.0);
                    }
                }
            }
        }
    }

    /// Where panel `p` of the block starting at row `k0` (of `depth` rows) begins.
    pub(crate) fn panel_offset(&self, k0: usize, depth: usize, p: usize) -> usize {
        k0 * self.n.div_ceil(self.nr) * self.nr + p * depth * self.nr
    }

    /// Output columns.
    pub(crate) fn n(&self) -> usize {
        self.n
    }
}

/// [`Kernels::pack_a`] in plain Rust, for tiles of `mr` rows.
pub(crate) fn pack_a_scalar(
    mr: usize,
    a: &[f32],
    lda: usize,
    mc: usize,
    k0: usize,
    kc: usize,
    out: &mut [f32],
) {
    assert!(
        mc.div_ceil(mr) * mr * kc <= out.len(),
        "pack buffer too small"
    );
    assert!(
        mc == 0 || (mc - 1) * lda + k0 + kc <= a.len(),
        "A out of bounds"
    );
    let mut ib = 0;
    while ib < mc {
        let rows = mr.min(mc - ib);
        let dst = &mut out[ib * kc..(ib + mr) * kc];
        for r in 0..mr {
            if r < rows {
                let src = &a[(ib + r) * lda + k0..(ib + r) * lda + k0 + kc];
                for (p, &x) in src.iter().enumerate() {
                    dst[p * mr + r] = x;
                }
            } else {
                (0..kc).for_each(|p| dst[p * mr + r] = 0.0);
            }
        }
        ib += mr;
    }
}

/// Rows of `A` packed at once, in tiles.
const MC_TILES: usize = 8;

/// `C = act(A · B (+ C if accumulate) (+ bias))`, all row-major; `A` is `m x k` with
/// row stride `lda`, `C` is `m x n` with row stride `ldc`. `pack` is scratch space.
/// `B` must have been packed for `K`.
///
/// # Safety
/// The CPU must run `K`'s instructions.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm<K: Kernels>(
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedB,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    bias: Option<&[f32]>,
    act: Act,
    pack: &mut Vec<f32>,
) {
    // SAFETY: within this function's # Safety contract, which its caller upholds.
    unsafe {
        let (k, n) = (b.k, b.n);
        if m == 0 || n == 0 {
            return;
        }
        assert_eq!(b.nr, K::NR, "B packed for another kernel");
        assert!(k == 0 || (m - 1) * lda + k <= a.len(), "A out of bounds");
        assert!((m - 1) * ldc + n <= c.len(), "C out of bounds");
        assert!(bias.is_none_or(|b| b.len() >= n), "bias too short");
        if k == 0 {
            for i in 0..m {
                let row = &mut c[i * ldc..i * ldc + n];
                if !accumulate {
                    row.fill(0.0);
                }
                if let Some(bias) = bias {
                    row.iter_mut().zip(bias).for_each(|(c, b)| *c += b);
                }
                if act == Act::Gelu {
                    K::gelu(row);
                }
            }
            return;
        }
        let mc_max = K::MR * MC_TILES;
        if !K::DIRECT_A && pack.len() < mc_max * b.kc {
            pack.resize(mc_max * b.kc, 0.0);
        }
        let panels = n.div_ceil(K::NR);
        let mut k0 = 0;
        while k0 < k {
            let kc = b.kc.min(k - k0);
            let first = k0 == 0;
            let last = k0 + kc == k;
            let mut i0 = 0;
            while i0 < m {
                let mc = mc_max.min(m - i0);
                if !K::DIRECT_A {
                    K::pack_a(&a[i0 * lda..], lda, mc, k0, kc, pack);
                }
                // Each micro-panel of A meets every panel of B before the next.
                let mut ib = 0;
                while ib < mc {
                    let rows = K::MR.min(mc - ib);
                    let (a_tile, a_rows, a_step) = if K::DIRECT_A {
                        (a.as_ptr().add((i0 + ib) * lda + k0), lda, 1)
                    } else {
                        (pack.as_ptr().add(ib * kc), 1, K::MR)
                    };
                    for p in 0..panels {
                        let j0 = p * K::NR;
                        let (bias, act) = if last {
                            (bias.map(|b| b.as_ptr().add(j0)), act)
                        } else {
                            (None, Act::None)
                        };
                        K::tile(
                            kc,
                            a_tile,
                            a_rows,
                            a_step,
                            b.data.as_ptr().add(b.panel_offset(k0, kc, p)),
                            c.as_mut_ptr().add((i0 + ib) * ldc + j0),
                            ldc,
                            rows,
                            K::NR.min(n - j0),
                            accumulate || !first,
                            bias,
                            act,
                        );
                    }
                    ib += K::MR;
                }
                i0 += mc_max;
            }
            k0 += kc;
        }
    }
}

/// `C = diag(row_scale) · Aᵀᵀ · B`: the product of an `m x k` matrix `A` given as its
/// transpose `at` (`k x m`, row stride `ldat`), with `C` (`m x n`, row stride `ldc`)
/// overwritten. The transpose is read in place, as a packed panel would be: this is
/// attention's `softmax(S) · V`, with `Sᵀ` as the softmax leaves it. `B` must be
/// packed whole ([`PackedB::pack_whole`]) for `K`. `tail` is scratch.
///
/// # Safety
/// The CPU must run `K`'s instructions.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_at<K: Kernels>(
    m: usize,
    at: &[f32],
    ldat: usize,
    b: &PackedB,
    c: &mut [f32],
    ldc: usize,
    row_scale: Option<&[f32]>,
    tail: &mut Vec<f32>,
) {
    // SAFETY: within this function's # Safety contract, which its caller upholds.
    unsafe {
        let (k, n) = (b.k, b.n);
        if m == 0 || n == 0 {
            return;
        }
        assert_eq!(b.nr, K::NR, "B packed for another kernel");
        assert!(k > 0 && (k - 1) * ldat + m <= at.len(), "A out of bounds");
        assert!(b.kc >= k, "B not packed whole");
        assert!((m - 1) * ldc + n <= c.len(), "C out of bounds");
        assert!(
            row_scale.is_none_or(|s| s.len() >= m),
            "row scale too short"
        );
        // The last, partial tile would read past the rows of `at`: copy it out, padded.
        let full = m / K::MR * K::MR;
        if full < m {
            // Rows past `m` are never stored, so stale values there do no harm.
            if tail.len() < k * K::MR {
                tail.resize(k * K::MR, 0.0);
            }
            for p in 0..k {
                tail[p * K::MR..p * K::MR + m - full]
                    .copy_from_slice(&at[p * ldat + full..p * ldat + m]);
            }
        }
        for p in 0..n.div_ceil(K::NR) {
            let j0 = p * K::NR;
            let cols = K::NR.min(n - j0);
            let panel = b.data.as_ptr().add(b.panel_offset(0, k, p));
            let mut ib = 0;
            while ib < m {
                let rows = K::MR.min(m - ib);
                let (a, step) = if ib < full {
                    (at.as_ptr().add(ib), ldat)
                } else {
                    (tail.as_ptr(), K::MR)
                };
                K::tile(
                    k,
                    a,
                    1,
                    step,
                    panel,
                    c.as_mut_ptr().add(ib * ldc + j0),
                    ldc,
                    rows,
                    cols,
                    false,
                    None,
                    Act::None,
                );
                if let Some(scale) = row_scale {
                    for r in 0..rows {
                        let s = scale[ib + r];
                        let row = &mut c[(ib + r) * ldc + j0..(ib + r) * ldc + j0 + cols];
                        row.iter_mut().for_each(|x| *x *= s);
                    }
                }
                ib += K::MR;
            }
        }
    }
}

/// Which instruction set the forward pass runs on, chosen at run time from the CPU's
/// features (the fastest it supports), or asked for with [`CpuPath::from_str`](std::str::FromStr::from_str) and
/// `TRAWL_CPU_PATH` (a path the CPU cannot run is never taken).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CpuPath {
    /// Plain Rust, vectorised only as far as the compiler's baseline target allows:
    /// any CPU, about 5 times slower than [`CpuPath::Avx2`] in f32.
    Portable,
    /// aarch64 with NEON (Advanced SIMD, 128-bit): Apple Silicon, Graviton, Ampere.
    Neon,
    /// x86-64 with AVX2 and FMA (256-bit): most laptops, desktops and AMD servers;
    /// int8 products use AVX-VNNI or AVX-512 VNNI where present.
    Avx2,
    /// x86-64 with AVX-512F (512-bit); bfloat16 products with AVX-512 BF16.
    Avx512,
    /// [`CpuPath::Avx512`] with bfloat16 products on AMX tiles (Sapphire Rapids and
    /// later, when Linux grants the tile state).
    Avx512Amx,
}

impl CpuPath {
    /// Every path, slowest first.
    pub const ALL: [CpuPath; 5] = [
        CpuPath::Portable,
        CpuPath::Neon,
        CpuPath::Avx2,
        CpuPath::Avx512,
        CpuPath::Avx512Amx,
    ];

    /// The fastest path this CPU runs.
    #[must_use]
    pub fn detect() -> CpuPath {
        CpuPath::ALL
            .into_iter()
            .rev()
            .find(|p| p.runnable())
            .unwrap_or(CpuPath::Portable)
    }

    /// The path the embedder takes by default: [`CpuPath::detect`], or the path named
    /// by the `TRAWL_CPU_PATH` environment variable if this CPU runs it (for measuring
    /// a slower path on a faster machine).
    #[must_use]
    pub fn selected() -> CpuPath {
        let best = CpuPath::detect();
        match std::env::var("TRAWL_CPU_PATH") {
            Ok(name) if !name.is_empty() => match name.parse::<CpuPath>() {
                Ok(path) if path.runnable() => path,
                Ok(path) => {
                    tracing::warn!("TRAWL_CPU_PATH={path}: this CPU cannot run it; using {best}");
                    best
                }
                Err(e) => {
                    tracing::warn!("TRAWL_CPU_PATH: {e}; using {best}");
                    best
                }
            },
            _ => best,
        }
    }

    /// Whether this CPU (and operating system) runs the path.
    #[must_use]
    pub fn runnable(self) -> bool {
        match self {
            CpuPath::Portable => true,
            #[cfg(target_arch = "aarch64")]
            CpuPath::Neon => neon::available(),
            #[cfg(target_arch = "x86_64")]
            CpuPath::Avx2 => avx2::available(),
            #[cfg(target_arch = "x86_64")]
            CpuPath::Avx512 => avx512::available(),
            #[cfg(target_arch = "x86_64")]
            CpuPath::Avx512Amx => avx512::available_amx(),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// What the CPU lacks for this path, when it cannot run it.
    #[must_use]
    pub fn requirement(self) -> &'static str {
        match self {
            CpuPath::Portable => "nothing",
            CpuPath::Neon => "aarch64 with NEON",
            CpuPath::Avx2 => "x86-64 with AVX2 and FMA",
            CpuPath::Avx512 => "x86-64 with AVX-512F",
            CpuPath::Avx512Amx => "x86-64 with AVX-512 BF16, AMX-BF16 and the tile state granted",
        }
    }

    /// Whether this CPU runs the path at `precision` (bfloat16 needs AVX-512 BF16).
    #[must_use]
    pub fn runs(self, precision: Precision) -> bool {
        self.runnable() && (precision != Precision::Bf16 || self.has_bf16())
    }

    /// Whether bfloat16 products run on this path and CPU.
    fn has_bf16(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        if self >= CpuPath::Avx512 {
            return avx512::available_bf16();
        }
        false
    }

    /// The CPU's model name and the features the paths look at, for benchmark
    /// headers and reports: `"Intel(R) Xeon(R) ... (avx2 fma avx512f ...)"`.
    #[must_use]
    pub fn cpu_description() -> String {
        let model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
        let features = cpu_features();
        format!("{model} ({})", features.join(" "))
    }
}

/// The CPU features the paths use that this CPU has.
fn cpu_features() -> Vec<&'static str> {
    #[allow(unused_mut)]
    let mut found = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! check {
            ($($f:tt),*) => {
                $(if std::arch::is_x86_feature_detected!($f) { found.push($f); })*
            };
        }
        check!(
            "avx2",
            "fma",
            "avxvnni",
            "avx512f",
            "avx512bw",
            "avx512vl",
            "avx512vnni",
            "avx512bf16"
        );
        if avx512::available_amx() {
            found.push("amx");
        }
    }
    #[cfg(target_arch = "aarch64")]
    found.push("neon");
    found
}

impl std::fmt::Display for CpuPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CpuPath::Portable => "portable",
            CpuPath::Neon => "neon",
            CpuPath::Avx2 => "avx2",
            CpuPath::Avx512 => "avx512",
            CpuPath::Avx512Amx => "avx512-amx",
        })
    }
}

impl std::str::FromStr for CpuPath {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "portable" => Ok(CpuPath::Portable),
            "neon" => Ok(CpuPath::Neon),
            "avx2" | "avx2+fma" => Ok(CpuPath::Avx2),
            "avx512" | "avx-512" => Ok(CpuPath::Avx512),
            "avx512-amx" | "amx" | "avx512+amx" => Ok(CpuPath::Avx512Amx),
            _ => Err(format!(
                "unknown CPU path {s:?} (expected portable, neon, avx2, avx512 or avx512-amx)"
            )),
        }
    }
}

#[cfg(test)]
mod tests;
