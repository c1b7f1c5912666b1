//! Matrix product for convolutions: `C = A·B + bias`, optionally through a ReLU, where A (the
//! weights) is packed once at load time and B (the activations) is packed a few columns at a
//! time by the caller, so that an im2col matrix never exists in full.
//!
//! The inner kernel keeps an `MR x NR` block of C in registers (12 four-lane accumulators: the
//! x86 register file behind wasm SIMD has 16) and streams one packed column panel of B from L1.

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
        let panels = m.div_ceil(MR);
        let mut data = vec![0.0; panels * MR * k];
        for (panel, out) in data.chunks_exact_mut(MR * k).enumerate() {
            for r in 0..MR.min(m - panel * MR) {
                let row = &a[(panel * MR + r) * k..][..k];
                for (p, &v) in row.iter().enumerate() {
                    out[p * MR + r] = v;
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
    /// Clamp negatives to zero.
    pub relu: bool,
}

/// `c[i * ldc + j] = epilogue(sum_p a[i][p] * b[p][j])` for `i < a.rows()`, `j < n`.
///
/// `pack_b(j0, width, panel)` must fill `panel` (`a.depth() * NR` values, `[p][jj]`) with
/// columns `j0..j0 + width` of B and zeros after `width`.
pub fn gemm(a: &PackedA, n: usize, mut pack_b: impl FnMut(usize, usize, &mut [f32]), epilogue: Epilogue, c: &mut [f32], ldc: usize) {
    let (m, k) = (a.m, a.k);
    assert!(epilogue.bias.len() >= m, "gemm: {} bias values for {m} rows", epilogue.bias.len());
    assert!(m == 0 || c.len() >= (m - 1) * ldc + n, "gemm: output too small");
    let mut panel = vec![0.0f32; k * NR];
    for j0 in (0..n).step_by(NR) {
        let width = NR.min(n - j0);
        pack_b(j0, width, &mut panel);
        for (pi, a_panel) in a.data.chunks_exact(MR * k).enumerate() {
            let acc = kernel(a_panel, &panel);
            let i0 = pi * MR;
            store(&acc, i0, (m - i0).min(MR), j0, width, epilogue, c, ldc);
        }
    }
}

// The relaxed-SIMD multiply-add only inlines into a function with that feature enabled.
#[cfg_attr(all(target_arch = "wasm32", feature = "relaxed-simd"), target_feature(enable = "relaxed-simd"))]
#[cfg_attr(not(all(target_arch = "wasm32", feature = "relaxed-simd")), inline(always))]
fn kernel(a_panel: &[f32], b_panel: &[f32]) -> [[F32x4; NV]; MR] {
    let mut acc = [[F32x4::zero(); NV]; MR];
    for (ap, bp) in a_panel.chunks_exact(MR).zip(b_panel.chunks_exact(NR)) {
        let b: [F32x4; NV] = core::array::from_fn(|v| F32x4::load(&bp[4 * v..]));
        for r in 0..MR {
            let av = F32x4::splat(ap[r]);
            for v in 0..NV {
                acc[r][v] = acc[r][v].mul_add(av, b[v]);
            }
        }
    }
    acc
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn store(acc: &[[F32x4; NV]; MR], i0: usize, rows: usize, j0: usize, width: usize, epilogue: Epilogue, c: &mut [f32], ldc: usize) {
    let zero = F32x4::zero();
    for (r, row_acc) in acc.iter().enumerate().take(rows) {
        let bias = F32x4::splat(epilogue.bias[i0 + r]);
        let out = |v: &F32x4| {
            let v = v.add(bias);
            if epilogue.relu {
                v.max(zero)
            } else {
                v
            }
        };
        let row = &mut c[(i0 + r) * ldc + j0..][..width];
        if width == NR {
            for (h, v) in row_acc.iter().enumerate() {
                out(v).store(&mut row[h * 4..]);
            }
        } else {
            let mut tile = [0.0f32; NR];
            for (h, v) in row_acc.iter().enumerate() {
                out(v).store(&mut tile[h * 4..]);
            }
            row.copy_from_slice(&tile[..width]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize, bias: &[f32], relu: bool) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = bias[i];
                for p in 0..k {
                    s += a[i * k + p] * b[p * n + j];
                }
                c[i * n + j] = if relu { s.max(0.0) } else { s };
            }
        }
        c
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        let mut x = seed.wrapping_mul(2654435761).wrapping_add(1);
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn matches_the_naive_product_for_ragged_sizes() {
        for (m, k, n) in [(1, 1, 1), (6, 3, 8), (7, 5, 9), (13, 17, 23), (64, 27, 100)] {
            let (a, b, bias) = (values(m * k, 1), values(k * n, 2), values(m, 3));
            for relu in [false, true] {
                let packed = PackedA::new(&a, m, k);
                let mut c = vec![f32::NAN; m * n];
                let pack = |j0: usize, width: usize, panel: &mut [f32]| {
                    for p in 0..k {
                        for jj in 0..NR {
                            panel[p * NR + jj] = if jj < width { b[p * n + j0 + jj] } else { 0.0 };
                        }
                    }
                };
                gemm(&packed, n, pack, Epilogue { bias: &bias, relu }, &mut c, n);
                let want = naive(&a, &b, m, k, n, &bias, relu);
                for (got, want) in c.iter().zip(&want) {
                    assert!((got - want).abs() < 1e-4, "{m}x{k}x{n}: {got} vs {want}");
                }
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
        gemm(&packed, n, pack, Epilogue { bias: &[0.0; 3], relu: false }, &mut c, ldc);
        for i in 0..m {
            assert!(c[i * ldc + n..(i + 1) * ldc].iter().all(|&v| v == 7.0));
        }
    }
}
