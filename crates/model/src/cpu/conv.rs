//! 2-D convolution (NCHW, one image at a time) as a product of the packed weights with an
//! implicit im2col matrix, bias and ReLU applied on the way out. Only the column panel being
//! multiplied is ever materialised; for 1x1 convolutions it is a plain copy of input rows.

use super::gemm::{gemm, Epilogue, PackedA, NR};

/// A convolution layer with its weights packed for [`gemm`].
#[derive(Debug, Clone)]
pub struct Conv2d {
    cin: usize,
    cout: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    relu: bool,
    weights: PackedA,
    bias: Vec<f32>,
}

impl Conv2d {
    /// `weight` is `[cout, cin, kh, kw]` row-major, `bias` `[cout]` (zeros when absent).
    pub fn new(
        weight: &[f32],
        [cout, cin, kh, kw]: [usize; 4],
        bias: Option<&[f32]>,
        stride: [usize; 2],
        padding: [usize; 2],
        relu: bool,
    ) -> Self {
        let bias = bias.map_or_else(|| vec![0.0; cout], <[f32]>::to_vec);
        assert_eq!(bias.len(), cout, "conv bias has {} values for {cout} output channels", bias.len());
        Self { cin, cout, kernel: [kh, kw], stride, padding, relu, weights: PackedA::new(weight, cout, cin * kh * kw), bias }
    }

    pub fn in_channels(&self) -> usize {
        self.cin
    }

    pub fn out_channels(&self) -> usize {
        self.cout
    }

    /// Output height and width for an `h x w` input.
    pub fn out_size(&self, h: usize, w: usize) -> [usize; 2] {
        let side = |len: usize, i: usize| (len + 2 * self.padding[i] - self.kernel[i]) / self.stride[i] + 1;
        [side(h, 0), side(w, 1)]
    }

    /// Convolves `cin` planes of `h x w` (`input`) into `cout` planes (`out`, exactly
    /// `cout * oh * ow` values, e.g. one channel range of a concatenation).
    pub fn run(&self, input: &[f32], h: usize, w: usize, out: &mut [f32]) {
        assert_eq!(input.len(), self.cin * h * w, "conv input is not {} planes of {h}x{w}", self.cin);
        let [oh, ow] = self.out_size(h, w);
        let n = oh * ow;
        assert_eq!(out.len(), self.cout * n, "conv output is not {} planes of {oh}x{ow}", self.cout);
        let epilogue = Epilogue { bias: &self.bias, relu: self.relu };
        if self.kernel == [1, 1] && self.stride == [1, 1] && self.padding == [0, 0] {
            let pack = |j0: usize, width: usize, panel: &mut [f32]| {
                for (row, dst) in input.chunks_exact(n).zip(panel.chunks_exact_mut(NR)) {
                    dst[..width].copy_from_slice(&row[j0..j0 + width]);
                    dst[width..].fill(0.0);
                }
            };
            gemm(&self.weights, n, pack, epilogue, out, n);
        } else {
            let window = Window { h, w, ow, kernel: self.kernel, stride: self.stride, padding: self.padding };
            gemm(&self.weights, n, |j0, width, panel| window.pack(input, j0, width, panel), epilogue, out, n);
        }
    }
}

/// Geometry of a general convolution, for packing im2col columns straight from the input.
struct Window {
    h: usize,
    w: usize,
    ow: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
}

impl Window {
    /// Columns `j0..j0 + width` of the im2col matrix (rows `(c, ky, kx)`), zeros outside the
    /// input and after `width`.
    fn pack(&self, input: &[f32], j0: usize, width: usize, panel: &mut [f32]) {
        let [kh, kw] = self.kernel;
        // The panel's pixels as runs along output rows: (first column in the panel, oy, ox, len).
        let mut runs = [(0usize, 0usize, 0usize, 0usize); NR];
        let mut count = 0;
        let mut jj = 0;
        while jj < width {
            let (oy, ox) = ((j0 + jj) / self.ow, (j0 + jj) % self.ow);
            let len = (self.ow - ox).min(width - jj);
            runs[count] = (jj, oy, ox, len);
            count += 1;
            jj += len;
        }
        let mut rows = panel.chunks_exact_mut(NR);
        for plane in input.chunks_exact(self.h * self.w) {
            for ky in 0..kh {
                for kx in 0..kw {
                    let Some(dst) = rows.next() else { return };
                    for &(at, oy, ox, len) in &runs[..count] {
                        self.fill_run(plane, ky, kx, oy, ox, &mut dst[at..at + len]);
                    }
                    dst[width..].fill(0.0);
                }
            }
        }
    }

    /// Input values under kernel tap `(ky, kx)` for `dst.len()` output pixels from `(oy, ox)`
    /// along one output row.
    fn fill_run(&self, plane: &[f32], ky: usize, kx: usize, oy: usize, ox: usize, dst: &mut [f32]) {
        let [sy, sx] = self.stride;
        let [py, px] = self.padding;
        let w = self.w;
        let iy = (oy * sy + ky) as isize - py as isize;
        if iy < 0 || iy >= self.h as isize {
            dst.fill(0.0);
            return;
        }
        let line = &plane[iy as usize * w..][..w];
        let ix0 = (ox * sx + kx) as isize - px as isize;
        let last = ix0 + ((dst.len() - 1) * sx) as isize;
        if ix0 >= 0 && last < w as isize {
            if sx == 1 {
                dst.copy_from_slice(&line[ix0 as usize..][..dst.len()]);
            } else {
                for (d, &v) in dst.iter_mut().zip(line[ix0 as usize..].iter().step_by(sx)) {
                    *d = v;
                }
            }
        } else {
            for (jj, d) in dst.iter_mut().enumerate() {
                let ix = ix0 + (jj * sx) as isize;
                *d = if ix >= 0 && ix < w as isize { line[ix as usize] } else { 0.0 };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(x: &[f32], [cin, h, w]: [usize; 3], wt: &[f32], [cout, kh, kw]: [usize; 3], b: &[f32], s: usize, p: usize) -> Vec<f32> {
        let (oh, ow) = ((h + 2 * p - kh) / s + 1, (w + 2 * p - kw) / s + 1);
        let mut out = vec![0.0; cout * oh * ow];
        for o in 0..cout {
            for y in 0..oh {
                for xx in 0..ow {
                    let mut acc = b[o];
                    for c in 0..cin {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let (iy, ix) = ((y * s + ky) as isize - p as isize, (xx * s + kx) as isize - p as isize);
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    acc += x[(c * h + iy as usize) * w + ix as usize] * wt[((o * cin + c) * kh + ky) * kw + kx];
                                }
                            }
                        }
                    }
                    out[(o * oh + y) * ow + xx] = acc.max(0.0);
                }
            }
        }
        out
    }

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len).map(|i| (((i * 7919 + seed * 104729) % 1013) as f32 / 506.0) - 1.0).collect()
    }

    #[test]
    fn matches_a_direct_convolution_for_every_geometry_in_squeezenet() {
        // (cin, cout, k, stride, pad, side)
        for (cin, cout, k, s, p, side) in
            [(3, 10, 3, 2, 0, 23), (5, 7, 1, 1, 0, 13), (4, 9, 3, 1, 1, 13), (2, 3, 3, 1, 1, 5), (3, 4, 3, 2, 1, 9)]
        {
            let x = values(cin * side * side, 1);
            let wt = values(cout * cin * k * k, 2);
            let b = values(cout, 3);
            let conv = Conv2d::new(&wt, [cout, cin, k, k], Some(&b), [s, s], [p, p], true);
            let [oh, ow] = conv.out_size(side, side);
            let mut out = vec![f32::NAN; cout * oh * ow];
            conv.run(&x, side, side, &mut out);
            let want = naive(&x, [cin, side, side], &wt, [cout, k, k], &b, s, p);
            for (i, (got, want)) in out.iter().zip(&want).enumerate() {
                assert!((got - want).abs() < 1e-4, "cin {cin} k {k} s {s} p {p}: [{i}] {got} vs {want}");
            }
        }
    }
}
