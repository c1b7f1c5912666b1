//! Depthwise convolution (one filter per channel, MobileNet's 3x3 layers) straight on the
//! planes: an im2col product would have a single row per group. Each channel is copied once
//! into a zero-padded plane split by column phase (`stride` planes of every `stride`-th
//! column), so every kernel tap of four neighbouring outputs is one contiguous four-lane load
//! for any stride and dilation; outputs are computed sixteen at a time in registers along a
//! row, the taps' weights splatted once per channel.

use super::activation::Activation;
use super::simd::F32x4;

/// The padded, phase-split copy of one channel and where each kernel tap reads from it.
pub(crate) struct Planes {
    /// `stride[1]` phases of `rows x width` values.
    buf: Vec<f32>,
    rows: usize,
    width: usize,
    /// Per tap `(ky, kx)`: offset of output pixel (0, 0)'s input in `buf`.
    taps: Vec<usize>,
    /// Offset between output rows.
    row_step: usize,
    /// Output columns rounded up to whole vectors.
    ow4: usize,
    pad: [usize; 2],
    stride_x: usize,
}

/// Output geometry and options of one depthwise run.
pub(crate) struct Shape {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub input: [usize; 2],
    pub output: [usize; 2],
}

impl Planes {
    pub(crate) fn new(s: &Shape) -> Self {
        let ([kh, kw], [sy, sx], [py, px], [dy, dx], [h, _], [_, ow]) = (s.kernel, s.stride, s.padding, s.dilation, s.input, s.output);
        let ow4 = ow.div_ceil(4) * 4;
        let rows = h + 2 * py;
        let width = ow4 + (kw - 1) * dx / sx;
        let mut taps = Vec::with_capacity(kh * kw);
        for ky in 0..kh {
            for kx in 0..kw {
                let (phase, base) = ((kx * dx) % sx, (kx * dx) / sx);
                taps.push((phase * rows + ky * dy) * width + base);
            }
        }
        Self { buf: vec![0.0; sx * rows * width], rows, width, taps, row_step: sy * width, ow4, pad: [py, px], stride_x: sx }
    }

    /// Copies one `h x w` plane in; the padding stays zero from [`Planes::new`].
    fn fill(&mut self, plane: &[f32], w: usize) {
        let [py, _] = self.pad;
        for (y, line) in plane.chunks_exact(w).enumerate() {
            match self.stride_x {
                1 => self.fill_row_stride1(line, y + py),
                2 => self.fill_row_stride2(line, y + py),
                _ => self.fill_row(line, y + py),
            }
        }
    }

    fn fill_row_stride1(&mut self, line: &[f32], row: usize) {
        let px = self.pad[1];
        let dst = &mut self.buf[row * self.width..][..self.width];
        if px < dst.len() {
            let len = (dst.len() - px).min(line.len());
            dst[px..px + len].copy_from_slice(&line[..len]);
        }
    }

    /// Stride 2: even and odd input columns split four at a time with two shuffles.
    fn fill_row_stride2(&mut self, line: &[f32], row: usize) {
        let (px, width, rows) = (self.pad[1], self.width, self.rows);
        let (phase0, phase1) = self.buf.split_at_mut(rows * width);
        let row0 = &mut phase0[row * width..][..width];
        let row1 = &mut phase1[row * width..][..width];
        // Padded column c + px lands in phase (c + px) % 2 at (c + px) / 2: input column 2t
        // at `even_at + t` of `evens`, column 2t + 1 at `odd_at + t` of `odds`.
        let q = px / 2;
        let (evens, odds, even_at, odd_at) = if px % 2 == 0 { (row0, row1, q, q) } else { (row1, row0, q, q + 1) };
        let pairs = line.len() / 2;
        // Whole groups of eight input columns whose four evens and four odds fit the planes.
        let room = width.saturating_sub(even_at.max(odd_at));
        let groups = (line.len() / 8).min(room / 4);
        if groups > 0 {
            let chunks = line[..8 * groups].chunks_exact(8);
            let evens_out = evens[even_at..even_at + 4 * groups].chunks_exact_mut(4);
            let odds_out = odds[odd_at..odd_at + 4 * groups].chunks_exact_mut(4);
            for ((src, e), o) in chunks.zip(evens_out).zip(odds_out) {
                let (a, b) = (F32x4::load(src), F32x4::load(&src[4..]));
                a.even(b).store(e);
                a.odd(b).store(o);
            }
        }
        let t = 4 * groups;
        for t in t..line.len().div_ceil(2) {
            if let Some(d) = evens.get_mut(even_at + t) {
                *d = line[2 * t];
            }
            if t < pairs {
                if let Some(d) = odds.get_mut(odd_at + t) {
                    *d = line[2 * t + 1];
                }
            }
        }
    }

    fn fill_row(&mut self, line: &[f32], row: usize) {
        let (px, sx, rows, width) = (self.pad[1], self.stride_x, self.rows, self.width);
        for phase in 0..sx {
            // Input columns c with (c + px) % sx == phase land at (c + px) / sx.
            let c0 = (phase + sx - px % sx) % sx;
            let j0 = (c0 + px) / sx;
            let dst = &mut self.buf[(phase * rows + row) * width..][..width];
            if j0 < width && c0 < line.len() {
                for (d, &v) in dst[j0..].iter_mut().zip(line[c0..].iter().step_by(sx)) {
                    *d = v;
                }
            }
        }
    }
}

/// `out` (channels planes of `output`) = act(depthwise(input) + bias + residual).
#[allow(clippy::too_many_arguments)]
pub(crate) fn depthwise(
    weights: &[f32],
    bias: &[f32],
    s: &Shape,
    activation: Activation,
    input: &[f32],
    out: &mut [f32],
    residual: Option<&[f32]>,
) {
    let [h, w] = s.input;
    let [oh, ow] = s.output;
    if oh * ow == 0 {
        return;
    }
    let taps = s.kernel[0] * s.kernel[1];
    let mut planes = Planes::new(s);
    for (c, (plane, out_plane)) in input.chunks_exact(h * w).zip(out.chunks_exact_mut(oh * ow)).enumerate() {
        planes.fill(plane, w);
        let res_plane = residual.map(|r| &r[c * oh * ow..][..oh * ow]);
        let wc = &weights[c * taps..][..taps];
        let job = Channel { planes: &planes, bias: bias[c], activation, ow, out: out_plane, residual: res_plane };
        match taps {
            9 => job.run::<9>(wc),
            25 => job.run::<25>(wc),
            _ => job.run_any(wc),
        }
    }
}

/// One channel's output rows.
struct Channel<'a> {
    planes: &'a Planes,
    bias: f32,
    activation: Activation,
    ow: usize,
    out: &'a mut [f32],
    residual: Option<&'a [f32]>,
}

impl Channel<'_> {
    /// A fixed tap count (3x3, 5x5): weights and offsets unrolled into registers.
    #[cfg_attr(all(target_arch = "wasm32", feature = "relaxed-simd"), target_feature(enable = "relaxed-simd"))]
    fn run<const T: usize>(self, weights: &[f32]) {
        let wv: [F32x4; T] = core::array::from_fn(|t| F32x4::splat(weights[t]));
        let offsets: [usize; T] = core::array::from_fn(|t| self.planes.taps[t]);
        self.rows(&wv, &offsets);
    }

    #[cfg_attr(all(target_arch = "wasm32", feature = "relaxed-simd"), target_feature(enable = "relaxed-simd"))]
    fn run_any(self, weights: &[f32]) {
        let wv: Vec<F32x4> = weights.iter().map(|&v| F32x4::splat(v)).collect();
        let offsets = self.planes.taps.clone();
        self.rows(&wv, &offsets);
    }

    #[inline(always)]
    fn rows(self, wv: &[F32x4], offsets: &[usize]) {
        let Channel { planes, bias, activation, ow, out, residual } = self;
        let (buf, ow4) = (&planes.buf[..], planes.ow4);
        let bias = F32x4::splat(bias);
        let reach = offsets.iter().max().map_or(0, |&m| m + ow4);
        // One output row's sums; the epilogue is a second pass, keeping the tap loop lean.
        let mut sums = vec![0.0f32; ow4];
        for (oy, out_row) in out.chunks_exact_mut(ow).enumerate() {
            let base = oy * planes.row_step;
            // Every load of the row's blocks lies below `base + reach`: checked once here.
            assert!(base + reach <= buf.len(), "depthwise: planes too small");
            let mut x = 0;
            for chunk in sums.chunks_exact_mut(16) {
                store(block::<4>(buf, base + x, wv, offsets, bias), chunk);
                x += 16;
            }
            // The remainder two vectors at a time: one chain of dependent multiply-adds would
            // wait on each one's latency.
            if x + 8 <= ow4 {
                store(block::<2>(buf, base + x, wv, offsets, bias), &mut sums[x..]);
                x += 8;
            }
            if x < ow4 {
                store(block::<1>(buf, base + x, wv, offsets, bias), &mut sums[x..]);
            }
            finish_row(&sums, activation, residual.map(|r| &r[oy * ow..][..ow]), out_row);
        }
    }
}

#[inline(always)]
fn store<const V: usize>(acc: [F32x4; V], dst: &mut [f32]) {
    for (i, a) in acc.into_iter().enumerate() {
        a.store(&mut dst[4 * i..]);
    }
}

/// `out_row = act(sums + residual)` (`sums` rounded up to whole vectors).
#[inline(always)]
fn finish_row(sums: &[f32], activation: Activation, residual: Option<&[f32]>, out_row: &mut [f32]) {
    let ow = out_row.len();
    let whole = ow / 4 * 4;
    match residual {
        Some(r) => {
            for ((o, s), r) in out_row[..whole].chunks_exact_mut(4).zip(sums.chunks_exact(4)).zip(r.chunks_exact(4)) {
                activation.apply4(F32x4::load(s).add(F32x4::load(r))).store(o);
            }
        }
        None => {
            for (o, s) in out_row[..whole].chunks_exact_mut(4).zip(sums.chunks_exact(4)) {
                activation.apply4(F32x4::load(s)).store(o);
            }
        }
    }
    for (x, (o, s)) in out_row.iter_mut().zip(sums).enumerate().skip(whole) {
        *o = activation.apply(s + residual.map_or(0.0, |r| r[x]));
    }
}

/// `V` vectors of outputs from `buf[at..]`: bias plus each tap's weight times its inputs.
/// The caller has checked `at + offset + 4 * V <= buf.len()` for every offset.
#[inline(always)]
fn block<const V: usize>(buf: &[f32], at: usize, wv: &[F32x4], offsets: &[usize], bias: F32x4) -> [F32x4; V] {
    let mut acc = [bias; V];
    let base = buf[at..].as_ptr();
    for (&wt, &off) in wv.iter().zip(offsets) {
        for (i, a) in acc.iter_mut().enumerate() {
            // SAFETY: in bounds by the caller's check (one per output row, in `rows`).
            *a = a.mul_add(wt, unsafe { F32x4::load_ptr(base.add(off + 4 * i)) });
        }
    }
    acc
}
