//! 3x3 stride-1 convolution by Winograd's F(2x2, 3x3): each 2x2 output tile comes from a 4x4
//! input patch with 16 multiplications per input channel instead of 36. The weights are
//! transformed once (`U = G g Gᵀ`, 16 matrices `[cout x cin]` packed for [`gemm`]); per image
//! the patches are transformed (`V = Bᵀ d B`, 16 matrices `[cin x tiles]`), multiplied
//! (`M = U V`, 16 products) and transformed back (`Y = Aᵀ M A`) with bias, residual and
//! activation. ResNet's and VGG's 3x3 layers carry most of their networks' work.

use super::activation::Activation;
use super::gemm::{gemm, Epilogue, PackedA, NR};

/// The transformed weights of one 3x3 layer.
#[derive(Debug, Clone)]
pub(crate) struct Winograd {
    cin: usize,
    cout: usize,
    /// `U` at each of the 16 positions of the 4x4 transform.
    u: Vec<PackedA>,
    zeros: Vec<f32>,
}

impl Winograd {
    /// `weight` is `[cout, cin, 3, 3]`.
    pub(crate) fn new(weight: &[f32], cout: usize, cin: usize) -> Self {
        let mut u = vec![vec![0.0f32; cout * cin]; 16];
        for (oc, g) in weight.chunks_exact(9).enumerate() {
            // G g (4x3), then (G g) Gᵀ (4x4).
            let mut gg = [[0.0f32; 3]; 4];
            for col in 0..3 {
                let (a, b, c) = (g[col], g[3 + col], g[6 + col]);
                gg[0][col] = a;
                gg[1][col] = 0.5 * (a + b + c);
                gg[2][col] = 0.5 * (a - b + c);
                gg[3][col] = c;
            }
            for (row, r) in gg.iter().enumerate() {
                let t = [r[0], 0.5 * (r[0] + r[1] + r[2]), 0.5 * (r[0] - r[1] + r[2]), r[2]];
                for (col, &v) in t.iter().enumerate() {
                    u[row * 4 + col][oc] = v;
                }
            }
        }
        let u = u.iter().map(|m| PackedA::new(m, cout, cin)).collect();
        Self { cin, cout, u, zeros: vec![0.0; cout] }
    }

    /// One image: `input` `cin x h x w`, `out` `cout x oh x ow` with padding `[py, px]`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run(
        &self,
        input: &[f32],
        [h, w]: [usize; 2],
        [py, px]: [usize; 2],
        [oh, ow]: [usize; 2],
        bias: &[f32],
        activation: Activation,
        out: &mut [f32],
        residual: Option<&[f32]>,
    ) {
        let (th, tw) = (oh.div_ceil(2), ow.div_ceil(2));
        let tiles = th * tw;
        if tiles == 0 {
            return;
        }
        // V: 16 matrices [cin x tiles].
        let mut v = vec![0.0f32; 16 * self.cin * tiles];
        let plane_v = self.cin * tiles;
        for (c, plane) in input.chunks_exact(h * w).enumerate() {
            for ty in 0..th {
                for tx in 0..tw {
                    let mut d = [[0.0f32; 4]; 4];
                    for (i, row) in d.iter_mut().enumerate() {
                        let iy = (2 * ty + i) as isize - py as isize;
                        if iy < 0 || iy >= h as isize {
                            continue;
                        }
                        let line = &plane[iy as usize * w..][..w];
                        for (j, x) in row.iter_mut().enumerate() {
                            let ix = (2 * tx + j) as isize - px as isize;
                            if ix >= 0 && ix < w as isize {
                                *x = line[ix as usize];
                            }
                        }
                    }
                    let at = c * tiles + ty * tw + tx;
                    for (k, value) in input_transform(&d).iter().enumerate() {
                        v[k * plane_v + at] = *value;
                    }
                }
            }
        }
        // M = U V: 16 products [cout x tiles].
        let plane_m = self.cout * tiles;
        let mut m = vec![0.0f32; 16 * plane_m];
        let epilogue = Epilogue { bias: &self.zeros, activation: Activation::None, residual: None };
        for ((u, vk), mk) in self.u.iter().zip(v.chunks_exact(plane_v)).zip(m.chunks_exact_mut(plane_m)) {
            let pack = |j0: usize, width: usize, panel: &mut [f32]| {
                for (row, dst) in vk.chunks_exact(tiles).zip(panel.chunks_exact_mut(NR)) {
                    dst[..width].copy_from_slice(&row[j0..j0 + width]);
                    dst[width..].fill(0.0);
                }
            };
            gemm(u, tiles, pack, epilogue, mk, tiles);
        }
        // Y = Aᵀ M A per tile, then bias, residual, activation.
        let plane_out = oh * ow;
        for (o, out_plane) in out.chunks_exact_mut(plane_out).enumerate() {
            for ty in 0..th {
                for tx in 0..tw {
                    let t = o * tiles + ty * tw + tx;
                    let mt: [f32; 16] = core::array::from_fn(|k| m[k * plane_m + t]);
                    let y = output_transform(&mt);
                    for (i, yr) in y.iter().enumerate() {
                        let oy = 2 * ty + i;
                        if oy >= oh {
                            break;
                        }
                        for (j, &yv) in yr.iter().enumerate() {
                            let ox = 2 * tx + j;
                            if ox >= ow {
                                break;
                            }
                            let at = oy * ow + ox;
                            let r = residual.map_or(0.0, |r| r[o * plane_out + at]);
                            out_plane[at] = activation.apply(yv + bias[o] + r);
                        }
                    }
                }
            }
        }
    }
}

/// `Bᵀ d B`, row-major 4x4.
#[inline(always)]
fn input_transform(d: &[[f32; 4]; 4]) -> [f32; 16] {
    // Bᵀ rows: [1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1].
    let mut t = [[0.0f32; 4]; 4];
    for j in 0..4 {
        t[0][j] = d[0][j] - d[2][j];
        t[1][j] = d[1][j] + d[2][j];
        t[2][j] = d[2][j] - d[1][j];
        t[3][j] = d[1][j] - d[3][j];
    }
    let mut v = [0.0f32; 16];
    for (i, r) in t.iter().enumerate() {
        v[i * 4] = r[0] - r[2];
        v[i * 4 + 1] = r[1] + r[2];
        v[i * 4 + 2] = r[2] - r[1];
        v[i * 4 + 3] = r[1] - r[3];
    }
    v
}

/// `Aᵀ m A` (2x2) for a row-major 4x4 `m`.
#[inline(always)]
fn output_transform(m: &[f32; 16]) -> [[f32; 2]; 2] {
    // Aᵀ rows: [1, 1, 1, 0], [0, 1, -1, -1].
    let row = |r: usize| [m[r * 4], m[r * 4 + 1], m[r * 4 + 2], m[r * 4 + 3]];
    let (m0, m1, m2, m3) = (row(0), row(1), row(2), row(3));
    let t0: [f32; 4] = core::array::from_fn(|j| m0[j] + m1[j] + m2[j]);
    let t1: [f32; 4] = core::array::from_fn(|j| m1[j] - m2[j] - m3[j]);
    let a = |t: [f32; 4]| [t[0] + t[1] + t[2], t[1] - t[2] - t[3]];
    [a(t0), a(t1)]
}
