//! 2-D convolution (NCHW, one image at a time). Grouped convolutions are a product per group
//! of the packed weights with an implicit im2col matrix (only the column panel being
//! multiplied is ever materialised; for 1x1 convolutions it is a plain copy of input rows);
//! depthwise ones run on their own kernel ([`super::depthwise`]). Bias, a residual and the
//! activation are applied on the way out.

use super::activation::Activation;
use super::depthwise::{depthwise, Shape};
use super::error::KernelError;
use super::gemm::{gemm, Epilogue, PackedA, NR};
use super::winograd::Winograd;

/// Burn's `Conv2dOptions` (symmetric padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl Default for ConvGeometry {
    fn default() -> Self {
        Self { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 }
    }
}

/// How the layer runs.
#[derive(Debug, Clone)]
enum Path {
    /// One packed `[cout / groups, cin / groups * kh * kw]` matrix per group.
    Gemm(Vec<PackedA>),
    /// `groups == cin == cout`: the `[c, kh * kw]` filters as given.
    Depthwise(Vec<f32>),
    /// 3x3, stride 1, dilation 1, one group, enough channels to repay the transforms.
    Winograd(Winograd),
}

/// Input and output channels from which a 3x3 stride-1 layer runs as Winograd's F(2x2, 3x3):
/// with fewer the transforms cost about what they save (measured in instructions on x86 SSE:
/// 16 -> 64 channels at 55x55 -24%, 32 -> 128 at 27x27 -32%, 64 -> 64 at 56x56 -46%).
const WINOGRAD_FROM_CHANNELS: usize = 16;

/// Whether a layer of weight shape `[cout, cin / groups, kh, kw]` runs Winograd F(2x2, 3x3)
/// (unless its caller refuses the memory, see [`Conv2d::with_winograd`]).
pub fn suits_winograd([cout, cin_per_group, kh, kw]: [usize; 4], g: &ConvGeometry) -> bool {
    [kh, kw] == [3, 3] && g.stride == [1, 1] && g.dilation == [1, 1] && g.groups == 1 && cin_per_group.min(cout) >= WINOGRAD_FROM_CHANNELS
}

/// A convolution layer with its weights packed.
#[derive(Debug, Clone)]
pub struct Conv2d {
    cin: usize,
    cout: usize,
    kernel: [usize; 2],
    geometry: ConvGeometry,
    activation: Activation,
    path: Path,
    bias: Vec<f32>,
}

impl Conv2d {
    /// Like [`Conv2d::with_winograd`], with Winograd wherever the layer suits it.
    pub fn new(
        weight: &[f32],
        shape: [usize; 4],
        bias: Option<&[f32]>,
        geometry: ConvGeometry,
        activation: Activation,
    ) -> Result<Self, KernelError> {
        Self::with_winograd(weight, shape, bias, geometry, activation, true)
    }

    /// `weight` is Burn's / ONNX's `[cout, cin / groups, kh, kw]` row-major, `bias` `[cout]`
    /// (zeros when absent).
    ///
    /// `winograd: false` keeps a layer that suits Winograd on the GEMM path: Winograd holds
    /// 16 transformed values per 9 weights, which a caller on a memory budget may refuse.
    pub fn with_winograd(
        weight: &[f32],
        [cout, cin_per_group, kh, kw]: [usize; 4],
        bias: Option<&[f32]>,
        geometry: ConvGeometry,
        activation: Activation,
        winograd: bool,
    ) -> Result<Self, KernelError> {
        let ConvGeometry { stride, dilation, groups, .. } = geometry;
        for (what, found) in [
            ("conv weight shape", vec![cout, cin_per_group, kh, kw]),
            ("conv stride", stride.to_vec()),
            ("conv dilation", dilation.to_vec()),
            ("conv groups", vec![groups]),
        ] {
            if found.contains(&0) {
                return Err(KernelError::Zero { what, found });
            }
        }
        if !cout.is_multiple_of(groups) {
            return Err(KernelError::Groups { what: "output", channels: cout, groups });
        }
        let expected = cout * cin_per_group * kh * kw;
        if weight.len() != expected {
            return Err(KernelError::Length { what: "conv weight", found: weight.len(), expected });
        }
        let bias = bias.map_or_else(|| vec![0.0; cout], <[f32]>::to_vec);
        if bias.len() != cout {
            return Err(KernelError::Length { what: "conv bias", found: bias.len(), expected: cout });
        }
        let cin = cin_per_group * groups;
        let path = if cin_per_group == 1 && cout == groups {
            Path::Depthwise(weight.to_vec())
        } else if winograd && suits_winograd([cout, cin_per_group, kh, kw], &geometry) {
            Path::Winograd(Winograd::new(weight, cout, cin_per_group))
        } else {
            let (rows, depth) = (cout / groups, cin_per_group * kh * kw);
            Path::Gemm(weight.chunks_exact(rows * depth).map(|group| PackedA::new(group, rows, depth)).collect())
        };
        Ok(Self { cin, cout, kernel: [kh, kw], geometry, activation, path, bias })
    }

    pub fn in_channels(&self) -> usize {
        self.cin
    }

    pub fn out_channels(&self) -> usize {
        self.cout
    }

    /// Output height and width for an `h x w` input (0 where the kernel does not fit).
    pub fn out_size(&self, h: usize, w: usize) -> [usize; 2] {
        let ConvGeometry { stride, padding, dilation, .. } = self.geometry;
        let side = |len: usize, i: usize| {
            let span = (self.kernel[i] - 1) * dilation[i] + 1;
            let padded = len + 2 * padding[i];
            if padded < span {
                0
            } else {
                (padded - span) / stride[i] + 1
            }
        };
        [side(h, 0), side(w, 1)]
    }

    /// Convolves `cin` planes of `h x w` (`input`) into `cout` planes (`out`, exactly
    /// `cout * oh * ow` values, e.g. one channel range of a concatenation), adding `residual`
    /// (laid out as `out`) before the activation.
    ///
    /// # Panics
    /// When the slices do not have those lengths (the caller sized them from the layer).
    pub fn run(&self, input: &[f32], h: usize, w: usize, out: &mut [f32], residual: Option<&[f32]>) {
        assert_eq!(input.len(), self.cin * h * w, "conv input is not {} planes of {h}x{w}", self.cin);
        let [oh, ow] = self.out_size(h, w);
        let n = oh * ow;
        assert_eq!(out.len(), self.cout * n, "conv output is not {} planes of {oh}x{ow}", self.cout);
        if let Some(residual) = residual {
            assert_eq!(residual.len(), out.len(), "conv residual is not {} planes of {oh}x{ow}", self.cout);
        }
        if h * w == 0 {
            // Only padding under every window: bias (and residual) alone.
            for (c, plane) in out.chunks_exact_mut(n.max(1)).enumerate().take(self.cout) {
                for (i, v) in plane.iter_mut().enumerate() {
                    *v = self.activation.apply(self.bias[c] + residual.map_or(0.0, |r| r[c * n + i]));
                }
            }
            return;
        }
        let ConvGeometry { stride, padding, dilation, groups } = self.geometry;
        let weights = match &self.path {
            Path::Depthwise(weights) => {
                let shape = Shape { kernel: self.kernel, stride, padding, dilation, input: [h, w], output: [oh, ow] };
                return depthwise(weights, &self.bias, &shape, self.activation, input, out, residual);
            }
            Path::Winograd(winograd) => {
                return winograd.run(input, [h, w], padding, [oh, ow], &self.bias, self.activation, out, residual);
            }
            Path::Gemm(weights) => weights,
        };
        let (cin_g, cout_g) = (self.cin / groups, self.cout / groups);
        let pointwise = self.kernel == [1, 1] && stride == [1, 1] && padding == [0, 0];
        let window = Window { h, w, ow, kernel: self.kernel, stride, padding, dilation };
        for (g, packed) in weights.iter().enumerate() {
            let input = &input[g * cin_g * h * w..][..cin_g * h * w];
            let out = &mut out[g * cout_g * n..][..cout_g * n];
            let residual = residual.map(|r| &r[g * cout_g * n..][..cout_g * n]);
            let epilogue = Epilogue { bias: &self.bias[g * cout_g..][..cout_g], activation: self.activation, residual };
            if pointwise {
                let pack = |j0: usize, width: usize, panel: &mut [f32]| {
                    let rows = input.chunks_exact(n).zip(panel.chunks_exact_mut(NR));
                    if width == NR {
                        // A fixed-size copy: four vector moves instead of a memcpy call per row.
                        for (row, dst) in rows {
                            dst.copy_from_slice(&row[j0..j0 + NR]);
                        }
                    } else {
                        for (row, dst) in rows {
                            dst[..width].copy_from_slice(&row[j0..j0 + width]);
                            dst[width..].fill(0.0);
                        }
                    }
                };
                gemm(packed, n, pack, epilogue, out, n);
            } else {
                gemm(packed, n, |j0, width, panel| window.pack(input, j0, width, panel), epilogue, out, n);
            }
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
    dilation: [usize; 2],
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
        let [dy, dx] = self.dilation;
        let w = self.w;
        let iy = (oy * sy + ky * dy) as isize - py as isize;
        if iy < 0 || iy >= self.h as isize {
            dst.fill(0.0);
            return;
        }
        let line = &plane[iy as usize * w..][..w];
        let ix0 = (ox * sx + kx * dx) as isize - px as isize;
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
            // Across the left or right padding: zeros, then the columns inside, then zeros.
            let (sx_i, w_i) = (sx as isize, w as isize);
            let lo = if ix0 < 0 { ((-ix0 + sx_i - 1) / sx_i) as usize } else { 0 };
            let hi = if ix0 >= w_i { 0 } else { (((w_i - 1 - ix0) / sx_i) as usize + 1).min(dst.len()) };
            let lo = lo.min(hi);
            dst[..lo].fill(0.0);
            dst[hi..].fill(0.0);
            if lo == hi {
                return;
            }
            let start = (ix0 + (lo as isize) * sx_i) as usize;
            let inside = &mut dst[lo..hi];
            if sx == 1 {
                inside.copy_from_slice(&line[start..][..inside.len()]);
            } else {
                for (d, &v) in inside.iter_mut().zip(line[start..].iter().step_by(sx)) {
                    *d = v;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::activation::tests::{reference, ALL};
    use crate::cpu::test_values::{assert_close, values};

    /// The definition, one output at a time.
    #[allow(clippy::too_many_arguments)]
    fn naive(
        x: &[f32],
        [cin, h, w]: [usize; 3],
        wt: &[f32],
        [cout, kh, kw]: [usize; 3],
        b: &[f32],
        g: ConvGeometry,
        res: Option<&[f32]>,
        act: Activation,
    ) -> Vec<f32> {
        let ([sy, sx], [py, px], [dy, dx]) = (g.stride, g.padding, g.dilation);
        let oh = (h + 2 * py - (kh - 1) * dy - 1) / sy + 1;
        let ow = (w + 2 * px - (kw - 1) * dx - 1) / sx + 1;
        let (cin_g, cout_g) = (cin / g.groups, cout / g.groups);
        let mut out = vec![0.0; cout * oh * ow];
        for o in 0..cout {
            let group = o / cout_g;
            for y in 0..oh {
                for xx in 0..ow {
                    let mut acc = b[o];
                    for ci in 0..cin_g {
                        let c = group * cin_g + ci;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (y * sy + ky * dy) as isize - py as isize;
                                let ix = (xx * sx + kx * dx) as isize - px as isize;
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    acc += x[(c * h + iy as usize) * w + ix as usize] * wt[((o * cin_g + ci) * kh + ky) * kw + kx];
                                }
                            }
                        }
                    }
                    let i = (o * oh + y) * ow + xx;
                    out[i] = reference(act, acc + res.map_or(0.0, |r| r[i]));
                }
            }
        }
        out
    }

    fn check(cin: usize, cout: usize, [kh, kw]: [usize; 2], g: ConvGeometry, [h, w]: [usize; 2], residual: bool, act: Activation) {
        let x = values(cin * h * w, 1);
        let wt = values(cout * cin / g.groups * kh * kw, 2);
        let b = values(cout, 3);
        let conv = Conv2d::new(&wt, [cout, cin / g.groups, kh, kw], Some(&b), g, act).unwrap();
        assert_eq!((conv.in_channels(), conv.out_channels()), (cin, cout));
        let [oh, ow] = conv.out_size(h, w);
        let res = residual.then(|| values(cout * oh * ow, 4));
        let mut out = vec![f32::NAN; cout * oh * ow];
        conv.run(&x, h, w, &mut out, res.as_deref());
        let want = naive(&x, [cin, h, w], &wt, [cout, kh, kw], &b, g, res.as_deref(), act);
        assert_close(&out, &want, 1e-4, &format!("cin {cin} cout {cout} k {kh}x{kw} {g:?} {h}x{w} residual {residual} {act:?}"));
    }

    fn geometry(s: usize, p: usize, d: usize, groups: usize) -> ConvGeometry {
        ConvGeometry { stride: [s, s], padding: [p, p], dilation: [d, d], groups }
    }

    #[test]
    fn matches_a_direct_convolution_for_every_geometry_in_squeezenet() {
        // (cin, cout, k, stride, pad, side)
        for (cin, cout, k, s, p, side) in
            [(3, 10, 3, 2, 0, 23), (5, 7, 1, 1, 0, 13), (4, 9, 3, 1, 1, 13), (2, 3, 3, 1, 1, 5), (3, 4, 3, 2, 1, 9)]
        {
            check(cin, cout, [k, k], geometry(s, p, 1, 1), [side, side], false, Activation::Relu);
        }
    }

    #[test]
    fn grouped_strided_padded_and_dilated_convolutions_match() {
        // (cin, cout, kernel, stride, pad, dilation, groups, input)
        for (cin, cout, k, s, p, d, groups, hw) in [
            (4, 6, [3, 3], 1, 1, 1, 2, [7, 9]),
            (6, 4, [3, 3], 2, 2, 1, 2, [11, 8]),
            (3, 5, [1, 1], 2, 0, 1, 1, [9, 9]),
            (3, 5, [3, 3], 1, 2, 2, 1, [10, 7]),
            (4, 4, [3, 2], 2, 1, 2, 2, [9, 13]),
            (2, 3, [7, 7], 2, 2, 1, 1, [17, 19]),
            (6, 9, [1, 1], 1, 0, 1, 3, [5, 6]),
            (2, 3, [3, 3], 1, 3, 1, 1, [4, 5]),
            (2, 2, [1, 1], 2, 2, 1, 1, [5, 5]),
            (2, 3, [3, 3], 3, 1, 1, 1, [40, 37]),
        ] {
            for (act, residual) in ALL.iter().zip([false, true, true, false]) {
                check(cin, cout, k, geometry(s, p, d, groups), hw, residual, *act);
            }
        }
    }

    #[test]
    fn depthwise_convolutions_match() {
        // (channels, kernel, stride, pad, dilation, input): 3x3 and 5x5 fast paths, any k.
        for (c, k, s, p, d, hw) in [
            (3, [3, 3], 1, 1, 1, [9, 9]),
            (5, [3, 3], 2, 1, 1, [14, 14]),
            (2, [3, 3], 2, 0, 1, [7, 11]),
            (2, [5, 5], 1, 2, 1, [23, 21]),
            (3, [5, 5], 2, 2, 1, [12, 17]),
            (2, [3, 3], 1, 2, 2, [8, 10]),
            (3, [2, 4], 2, 1, 1, [6, 9]),
            (1, [3, 3], 1, 0, 1, [3, 3]),
            (4, [7, 7], 1, 3, 1, [38, 37]),
            (2, [3, 3], 3, 1, 1, [10, 10]),
            (1, [3, 3], 2, 3, 1, [4, 5]),
            (2, [3, 3], 1, 4, 1, [3, 2]),
        ] {
            for (act, residual) in ALL.iter().zip([true, false, true, false]) {
                check(c, c, k, geometry(s, p, d, c), hw, residual, *act);
            }
        }
    }

    #[test]
    fn winograd_layers_match() {
        // 3x3 stride 1 with enough channels: odd and even sides, paddings 0..2.
        for (cin, cout, p, hw) in
            [(16, 17, 1, [9, 9]), (19, 16, 0, [8, 11]), (16, 24, 2, [5, 6]), (16, 16, 1, [1, 1]), (32, 20, 1, [19, 18])]
        {
            for (act, residual) in ALL.iter().zip([true, false, false, true]) {
                let conv = Conv2d::new(&values(cout * cin * 9, 2), [cout, cin, 3, 3], None, geometry(1, p, 1, 1), *act).unwrap();
                assert!(matches!(conv.path, Path::Winograd(_)));
                check(cin, cout, [3, 3], geometry(1, p, 1, 1), hw, residual, *act);
            }
        }
    }

    #[test]
    fn a_depthwise_layer_with_a_channel_multiplier_takes_the_grouped_product() {
        check(3, 6, [3, 3], geometry(1, 1, 1, 3), [6, 7], true, Activation::Clamp { min: 0.0, max: 6.0 });
    }

    #[test]
    fn inconsistent_shapes_are_errors() {
        let g = ConvGeometry::default();
        assert!(matches!(Conv2d::new(&[0.0; 5], [2, 1, 1, 3], None, g, Activation::None), Err(KernelError::Length { .. })));
        assert!(matches!(Conv2d::new(&[0.0; 6], [2, 1, 1, 3], Some(&[0.0]), g, Activation::None), Err(KernelError::Length { .. })));
        let grouped = ConvGeometry { groups: 4, ..g };
        assert!(matches!(Conv2d::new(&[0.0; 6], [6, 1, 1, 1], None, grouped, Activation::None), Err(KernelError::Groups { .. })));
        let strideless = ConvGeometry { stride: [0, 1], ..g };
        assert!(matches!(Conv2d::new(&[0.0; 1], [1, 1, 1, 1], None, strideless, Activation::None), Err(KernelError::Zero { .. })));
        let big = Conv2d::new(&[0.0; 25], [1, 1, 5, 5], None, g, Activation::None).unwrap();
        assert_eq!(big.out_size(3, 9), [0, 5]);
        // An empty input under padding: bias only, no panic.
        let padded =
            Conv2d::new(&[1.0; 2], [2, 1, 1, 1], Some(&[0.5, -2.0]), ConvGeometry { padding: [1, 1], ..g }, Activation::Relu).unwrap();
        assert_eq!(padded.out_size(0, 0), [2, 2]);
        let mut out = vec![f32::NAN; 8];
        padded.run(&[], 0, 0, &mut out, None);
        assert_eq!(out, [[0.5; 4], [0.0; 4]].concat());
    }
}
