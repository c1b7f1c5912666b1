//! 3x3 stride-1 convolution by Winograd's F(2x2, 3x3): each 2x2 output tile comes from a 4x4
//! input patch with 16 multiplications per input channel instead of 36. The weights are
//! transformed once (`U = G g Gᵀ`, 16 matrices `[cout x cin]` packed for [`gemm`]); per image
//! the patches are transformed (`V = Bᵀ d B`, 16 matrices `[cin x tiles]`), multiplied
//! (`M = U V`, 16 products) and transformed back (`Y = Aᵀ M A`) with bias, residual and
//! activation. ResNet's and VGG's 3x3 layers carry most of their networks' work.

use super::activation::Activation;
use super::gemm::{gemm, Epilogue, PackedA, NR};
use super::simd::F32x4;

/// Values of transformed inputs and products held at once (1 MiB of f32: as fast as 8 MiB
/// natively on SqueezeNet and ResNet-style, 48.1 vs 48.4 and 62.3 vs 63.3 ms p50, and the
/// scratch a wasm module never gives back stays small; tests use small bands so that several run).
#[cfg(not(test))]
const BAND_VALUES: usize = 256 << 10;
#[cfg(test)]
const BAND_VALUES: usize = 16 << 10;

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
        // Each position's matrix goes once it is packed: the transform never holds two copies.
        let u = u.into_iter().map(|m| PackedA::new(&m, cout, cin)).collect();
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
        let (all_rows, tw) = (oh.div_ceil(2), ow.div_ceil(2));
        if all_rows * tw == 0 {
            return;
        }
        // Bands of tile rows whose transformed inputs and products stay within ~1 MiB.
        let band = (BAND_VALUES / (16 * (self.cin + self.cout) * tw)).clamp(1, all_rows);
        let mut v = vec![0.0f32; 16 * self.cin * band * tw];
        // Four spare values so that the last tiles' vector loads stay in bounds.
        let mut m = vec![0.0f32; 16 * self.cout * band * tw + 4];
        // The patch rows of a tile row split into even and odd padded columns: tile `tx`'s
        // patch columns 0..4 are even[tx], odd[tx], even[tx + 1], odd[tx + 1].
        let half = tw.div_ceil(4) * 4 + 1;
        let mut split = vec![0.0f32; 8 * half];
        for ty0 in (0..all_rows).step_by(band) {
            let th = band.min(all_rows - ty0);
            self.band(input, [h, w], [py, px], [oh, ow], [ty0, th, tw], bias, activation, out, residual, &mut v, &mut m, &mut split);
        }
    }

    /// Tile rows `ty0..ty0 + th` of [`Winograd::run`], in its buffers.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn band(
        &self,
        input: &[f32],
        [h, w]: [usize; 2],
        [py, px]: [usize; 2],
        [oh, ow]: [usize; 2],
        [ty0, th, tw]: [usize; 3],
        bias: &[f32],
        activation: Activation,
        out: &mut [f32],
        residual: Option<&[f32]>,
        v: &mut [f32],
        m: &mut [f32],
        split: &mut [f32],
    ) {
        let tiles = th * tw;
        let half = tw.div_ceil(4) * 4 + 1;
        // V: 16 matrices [cin x tiles], four tiles of a tile row at a time (one per lane).
        let plane_v = self.cin * tiles;
        let v = &mut v[..16 * plane_v];
        for (c, plane) in input.chunks_exact(h * w).enumerate() {
            for ty in 0..th {
                for (i, eo) in split.chunks_exact_mut(2 * half).enumerate() {
                    let (even, odd) = eo.split_at_mut(half);
                    let iy = (2 * (ty0 + ty) + i) as isize - py as isize;
                    if iy < 0 || iy >= h as isize {
                        even.fill(0.0);
                        odd.fill(0.0);
                        continue;
                    }
                    let line = &plane[iy as usize * w..][..w];
                    let at = |col: isize| if col >= 0 && col < w as isize { line[col as usize] } else { 0.0 };
                    for (k, (e, o)) in even.iter_mut().zip(odd.iter_mut()).enumerate() {
                        let col = (2 * k) as isize - px as isize;
                        *e = at(col);
                        *o = at(col + 1);
                    }
                }
                for tx in (0..tw).step_by(4) {
                    let d: [[F32x4; 4]; 4] = core::array::from_fn(|i| {
                        let (even, odd) = split[2 * half * i..][..2 * half].split_at(half);
                        [F32x4::load(&even[tx..]), F32x4::load(&odd[tx..]), F32x4::load(&even[tx + 1..]), F32x4::load(&odd[tx + 1..])]
                    });
                    let at = c * tiles + ty * tw + tx;
                    let n = (tw - tx).min(4);
                    for (k, value) in input_transform(&d).iter().enumerate() {
                        let dst = &mut v[k * plane_v + at..][..n];
                        if n == 4 {
                            value.store(dst);
                        } else {
                            dst.copy_from_slice(&value.to_array()[..n]);
                        }
                    }
                }
            }
        }
        // M = U V: 16 products [cout x tiles].
        let plane_m = self.cout * tiles;
        let m = &mut m[..16 * plane_m + 4];
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
        // Y = Aᵀ M A four tiles at a time, then bias, residual, activation.
        let plane_out = oh * ow;
        for (o, out_plane) in out.chunks_exact_mut(plane_out).enumerate() {
            let b = F32x4::splat(bias[o]);
            let res_plane = residual.map(|r| &r[o * plane_out..][..plane_out]);
            for ty in 0..th {
                for tx in (0..tw).step_by(4) {
                    let t = o * tiles + ty * tw + tx;
                    // Lanes past the tile row hold other tiles' values and are not written.
                    let mt: [F32x4; 16] = core::array::from_fn(|k| F32x4::load(&m[k * plane_m + t..]));
                    for (i, [y0, y1]) in output_transform(&mt).into_iter().enumerate() {
                        let oy = 2 * (ty0 + ty) + i;
                        if oy >= oh {
                            break;
                        }
                        let row = &mut out_plane[oy * ow..][..ow];
                        let res_row = res_plane.map(|r| &r[oy * ow..][..ow]);
                        let x0 = 2 * tx;
                        // Output columns x0..x0 + 8: each tile's two values side by side.
                        let pair = [y0.zip_lo(y1).add(b), y0.zip_hi(y1).add(b)];
                        if x0 + 8 <= ow {
                            for (q, v) in pair.into_iter().enumerate() {
                                let x = x0 + 4 * q;
                                let v = match res_row {
                                    Some(r) => v.add(F32x4::load(&r[x..])),
                                    None => v,
                                };
                                activation.apply4(v).store(&mut row[x..]);
                            }
                        } else {
                            let values = [pair[0].to_array(), pair[1].to_array()];
                            for (q, &yv) in values.iter().flatten().enumerate().take(ow - x0) {
                                let x = x0 + q;
                                row[x] = activation.apply(yv + res_row.map_or(0.0, |r| r[x]));
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `Bᵀ d B` (row-major 4x4), one tile per lane.
#[inline(always)]
fn input_transform(d: &[[F32x4; 4]; 4]) -> [F32x4; 16] {
    // Bᵀ rows: [1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1].
    let t: [[F32x4; 4]; 4] = [
        core::array::from_fn(|j| d[0][j].sub(d[2][j])),
        core::array::from_fn(|j| d[1][j].add(d[2][j])),
        core::array::from_fn(|j| d[2][j].sub(d[1][j])),
        core::array::from_fn(|j| d[1][j].sub(d[3][j])),
    ];
    let mut v = [F32x4::zero(); 16];
    for (i, r) in t.iter().enumerate() {
        v[i * 4] = r[0].sub(r[2]);
        v[i * 4 + 1] = r[1].add(r[2]);
        v[i * 4 + 2] = r[2].sub(r[1]);
        v[i * 4 + 3] = r[1].sub(r[3]);
    }
    v
}

/// `Aᵀ m A` (2x2) for a row-major 4x4 `m`, one tile per lane.
#[inline(always)]
fn output_transform(m: &[F32x4; 16]) -> [[F32x4; 2]; 2] {
    // Aᵀ rows: [1, 1, 1, 0], [0, 1, -1, -1].
    let t0: [F32x4; 4] = core::array::from_fn(|j| m[j].add(m[4 + j]).add(m[8 + j]));
    let t1: [F32x4; 4] = core::array::from_fn(|j| m[4 + j].sub(m[8 + j]).sub(m[12 + j]));
    let a = |t: [F32x4; 4]| [t[0].add(t[1]).add(t[2]), t[1].sub(t[2]).sub(t[3])];
    [a(t0), a(t1)]
}
