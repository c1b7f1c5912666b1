//! Matrix product for convolutions: `C = act(A·B + bias + residual)`, where A (the
//! weights) is packed once at load time and B (the activations) is packed a few columns at a
//! time by the caller, so that an im2col matrix never exists in full.
//!
//! The inner kernel keeps an `MR x NR` block of C in registers (8 four-lane accumulators: the
//! x86 register file behind wasm SIMD has 16) and streams one packed column panel of B from L1.

use super::activation::Activation;
use super::simd::F32x4;

/// Rows of C per kernel call.
pub const MR: usize = 2;
/// Four-lane vectors per row of the register block.
const NV: usize = 4;
/// Columns of C per kernel call.
pub const NR: usize = 4 * NV;

/// The left operand `[m x k]`, in panels of `MR` rows with the `MR` values of one `k` adjacent
/// (rows past `m` are zero), so the kernel reads it strictly in order.
#[derive(Debug, Clone)]
pub struct PackedA {
    m: usize,
    k: usize,
    data: Vec<f32>,
}

impl PackedA {
    /// Packs the row-major `a` (`m * k` values).
    pub fn new(a: &[f32], m: usize, k: usize) -> Self {
        assert_eq!(a.len(), m * k, "PackedA: {} values for a {m}x{k} matrix", a.len());
        Self::from_fn(m, k, |r, p| a[r * k + p])
    }

    /// The `m x k` matrix whose value at row `r`, column `p` is `at(r, p)`, packed straight
    /// from its source (a transposed layout, say) with no intermediate copy.
    pub fn from_fn(m: usize, k: usize, at: impl Fn(usize, usize) -> f32) -> Self {
        let panels = m.div_ceil(MR);
        let mut data = vec![0.0; panels * MR * k];
        for (panel, out) in data.chunks_exact_mut(MR * k).enumerate() {
            for r in 0..MR.min(m - panel * MR) {
                for p in 0..k {
                    out[p * MR + r] = at(panel * MR + r, p);
                }
            }
        }
        Self { m, k, data }
    }

    pub fn rows(&self) -> usize {
        self.m
    }

    pub fn depth(&self) -> usize {
        self.k
    }
}

/// What happens to each output value after the product.
#[derive(Debug, Clone, Copy)]
pub struct Epilogue<'a> {
    /// Added to every value of a row (one per row of A).
    pub bias: &'a [f32],
    /// Applied last.
    pub activation: Activation,
    /// Added before the activation; indexed like the output (`c`, `ldc`).
    pub residual: Option<&'a [f32]>,
}

/// `c[i * ldc + j] = epilogue(sum_p a[i][p] * b[p][j])` for `i < a.rows()`, `j < n`.
///
/// `pack_b(j0, width, panel)` must fill `panel` (`a.depth() * NR` values, `[p][jj]`) with
/// columns `j0..j0 + width` of B and zeros after `width`.
pub fn gemm(a: &PackedA, n: usize, mut pack_b: impl FnMut(usize, usize, &mut [f32]), epilogue: Epilogue, c: &mut [f32], ldc: usize) {
    let (m, k) = (a.m, a.k);
    assert!(epilogue.bias.len() >= m, "gemm: {} bias values for {m} rows", epilogue.bias.len());
    assert!(m == 0 || c.len() >= (m - 1) * ldc + n, "gemm: output too small");
    if let Some(residual) = epilogue.residual {
        assert!(m == 0 || residual.len() >= (m - 1) * ldc + n, "gemm: residual too small");
    }
    let mut panel = vec![0.0f32; k * NR];
    for j0 in (0..n).step_by(NR) {
        let width = NR.min(n - j0);
        pack_b(j0, width, &mut panel);
        // A narrow last panel (a 7x7 plane is 3 x 16 + 1 columns) only multiplies the
        // vectors it has.
        match width.div_ceil(4) {
            NV => panels::<NV>(a, &panel, j0, width, epilogue, c, ldc),
            3 => panels::<3>(a, &panel, j0, width, epilogue, c, ldc),
            2 => panels::<2>(a, &panel, j0, width, epilogue, c, ldc),
            _ => panels::<1>(a, &panel, j0, width, epilogue, c, ldc),
        }
    }
}

/// Every row panel of A against one column panel of B, `V` vectors wide.
#[inline(always)]
fn panels<const V: usize>(a: &PackedA, panel: &[f32], j0: usize, width: usize, epilogue: Epilogue, c: &mut [f32], ldc: usize) {
    for (pi, a_panel) in a.data.chunks_exact(MR * a.k).enumerate() {
        let acc = kernel::<V>(a_panel, panel);
        let i0 = pi * MR;
        store(&acc, i0, (a.m - i0).min(MR), j0, width, epilogue, c, ldc);
    }
}

// The relaxed-SIMD multiply-add only inlines into a function with that feature enabled.
#[cfg_attr(all(target_arch = "wasm32", feature = "relaxed-simd"), target_feature(enable = "relaxed-simd"))]
#[cfg_attr(not(all(target_arch = "wasm32", feature = "relaxed-simd")), inline(always))]
fn kernel<const V: usize>(a_panel: &[f32], b_panel: &[f32]) -> [[F32x4; V]; MR] {
    let mut acc = [[F32x4::zero(); V]; MR];
    for (ap, bp) in a_panel.chunks_exact(MR).zip(b_panel.chunks_exact(NR)) {
        let b: [F32x4; V] = core::array::from_fn(|v| F32x4::load(&bp[4 * v..]));
        for r in 0..MR {
            let av = F32x4::splat(ap[r]);
            for v in 0..V {
                acc[r][v] = acc[r][v].mul_add(av, b[v]);
            }
        }
    }
    acc
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn store<const V: usize>(
    acc: &[[F32x4; V]; MR],
    i0: usize,
    rows: usize,
    j0: usize,
    width: usize,
    epilogue: Epilogue,
    c: &mut [f32],
    ldc: usize,
) {
    for (r, row_acc) in acc.iter().enumerate().take(rows) {
        let bias = F32x4::splat(epilogue.bias[i0 + r]);
        let at = (i0 + r) * ldc + j0;
        let mut tile = [0.0f32; NR];
        let mut sums = row_acc.map(|v| v.add(bias));
        if let Some(residual) = epilogue.residual {
            let residual = &residual[at..][..width];
            let residual = if width == 4 * V {
                residual
            } else {
                tile[..width].copy_from_slice(residual);
                &tile
            };
            for (h, v) in sums.iter_mut().enumerate() {
                *v = v.add(F32x4::load(&residual[h * 4..]));
            }
        }
        let row = &mut c[at..][..width];
        if width == 4 * V {
            for (h, v) in sums.iter().enumerate() {
                epilogue.activation.apply4(*v).store(&mut row[h * 4..]);
            }
        } else {
            for (h, v) in sums.iter().enumerate() {
                epilogue.activation.apply4(*v).store(&mut tile[h * 4..]);
            }
            row.copy_from_slice(&tile[..width]);
        }
    }
}

/// `y[i] = act(sum_p a[i][p] * x[p] + bias[i])`: one column of B, without a panel's
/// fifteen zero columns. The packed panels are read in order against `x` with each value
/// repeated `MR` times, so each four-lane product holds `MR` rows' partial sums.
pub fn gemv(a: &PackedA, x: &[f32], bias: &[f32], activation: Activation, y: &mut [f32]) {
    let (m, k) = (a.m, a.k);
    assert!(x.len() == k && bias.len() >= m && y.len() == m, "gemv: {} inputs for depth {k}, {} outputs for {m} rows", x.len(), y.len());
    let repeated: Vec<f32> = x.iter().flat_map(|&v| [v; MR]).collect();
    for (pi, panel) in a.data.chunks_exact(MR * k).enumerate() {
        let sums = dot_rows(panel, &repeated);
        for (r, &s) in sums.iter().enumerate().take(m - pi * MR) {
            let i = pi * MR + r;
            y[i] = activation.apply(s + bias[i]);
        }
    }
}

/// The `MR` interleaved dot products of one packed panel with the repeated input.
#[cfg_attr(all(target_arch = "wasm32", feature = "relaxed-simd"), target_feature(enable = "relaxed-simd"))]
#[cfg_attr(not(all(target_arch = "wasm32", feature = "relaxed-simd")), inline(always))]
fn dot_rows(panel: &[f32], repeated: &[f32]) -> [f32; MR] {
    const { assert!(4 % MR == 0) };
    let mut acc = [F32x4::zero(); 4];
    let mut a = panel.chunks_exact(16);
    let mut b = repeated.chunks_exact(16);
    for (a, b) in (&mut a).zip(&mut b) {
        for (i, acc) in acc.iter_mut().enumerate() {
            *acc = acc.mul_add(F32x4::load(&a[4 * i..]), F32x4::load(&b[4 * i..]));
        }
    }
    let lanes = acc[0].add(acc[1]).add(acc[2].add(acc[3])).to_array();
    let mut sums = [0.0; MR];
    for (l, v) in lanes.iter().enumerate() {
        sums[l % MR] += v;
    }
    for (l, (a, b)) in a.remainder().iter().zip(b.remainder()).enumerate() {
        sums[l % MR] += a * b;
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::activation::tests::{reference, ALL};
    use crate::cpu::test_values::{assert_close, values};

    #[allow(clippy::too_many_arguments)]
    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize, bias: &[f32], residual: Option<&[f32]>, act: Activation) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = bias[i];
                for p in 0..k {
                    s += a[i * k + p] * b[p * n + j];
                }
                if let Some(r) = residual {
                    s += r[i * n + j];
                }
                c[i * n + j] = reference(act, s);
            }
        }
        c
    }

    #[test]
    fn matches_the_naive_product_for_ragged_sizes() {
        for (m, k, n) in [(1, 1, 1), (6, 3, 8), (7, 5, 9), (5, 4, 14), (13, 17, 23), (64, 27, 100)] {
            let (a, b, bias, res) = (values(m * k, 1), values(k * n, 2), values(m, 3), values(m * n, 4));
            for activation in ALL {
                for residual in [None, Some(&res[..])] {
                    let packed = PackedA::new(&a, m, k);
                    let mut c = vec![f32::NAN; m * n];
                    let pack = |j0: usize, width: usize, panel: &mut [f32]| {
                        for p in 0..k {
                            for jj in 0..NR {
                                panel[p * NR + jj] = if jj < width { b[p * n + j0 + jj] } else { 0.0 };
                            }
                        }
                    };
                    gemm(&packed, n, pack, Epilogue { bias: &bias, activation, residual }, &mut c, n);
                    let want = naive(&a, &b, m, k, n, &bias, residual, activation);
                    assert_close(&c, &want, 1e-4, &format!("{m}x{k}x{n} {activation:?} residual {}", residual.is_some()));
                }
            }
        }
    }

    #[test]
    fn gemv_matches_the_naive_product() {
        for (m, k) in [(1, 1), (3, 5), (7, 8), (13, 17), (64, 33)] {
            let (a, x, bias) = (values(m * k, 6), values(k, 7), values(m, 8));
            for activation in ALL {
                let mut y = vec![f32::NAN; m];
                gemv(&PackedA::new(&a, m, k), &x, &bias, activation, &mut y);
                assert_close(&y, &naive(&a, &x, m, k, 1, &bias, None, activation), 1e-4, &format!("{m}x{k} {activation:?}"));
            }
        }
    }

    #[test]
    fn writes_only_its_columns_of_a_wider_output() {
        let (m, k, n, ldc) = (3, 2, 5, 9);
        let (a, b) = (values(m * k, 4), values(k * n, 5));
        let packed = PackedA::new(&a, m, k);
        let mut c = vec![7.0; m * ldc];
        let pack = |j0: usize, width: usize, panel: &mut [f32]| {
            panel.fill(0.0);
            for p in 0..k {
                panel[p * NR..][..width].copy_from_slice(&b[p * n + j0..][..width]);
            }
        };
        let residual = vec![1.0; m * ldc];
        gemm(&packed, n, pack, Epilogue { bias: &[0.0; 3], activation: Activation::None, residual: Some(&residual) }, &mut c, ldc);
        for i in 0..m {
            assert!(c[i * ldc + n..(i + 1) * ldc].iter().all(|&v| v == 7.0));
        }
    }
}
