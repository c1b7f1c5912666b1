//! Pooling and the classifier head on NCHW planes of one image. Both poolings reduce the rows
//! of an output row's window first, four columns at a time, into a line padded on both sides
//! (with -inf for max, 0 for average), then reduce each window along that line.

use super::simd::F32x4;

/// Output side for floor rounding (0 where the window does not fit).
fn out_side(len: usize, kernel: usize, stride: usize, padding: usize) -> usize {
    let padded = len + 2 * padding;
    if padded < kernel {
        0
    } else {
        (padded - kernel) / stride + 1
    }
}

/// The input rows `0..h` under output row `oy`'s window.
fn window_rows(oy: usize, kernel: usize, stride: usize, padding: usize, h: usize) -> core::ops::Range<usize> {
    let top = oy * stride;
    top.saturating_sub(padding).min(h)..(top + kernel).saturating_sub(padding).min(h)
}

/// `line[px..px + w]` = `reduce` over `rows` of the plane (`first` copied, the rest folded).
fn reduce_rows(
    plane: &[f32],
    w: usize,
    rows: core::ops::Range<usize>,
    line: &mut [f32],
    reduce: impl Fn(F32x4, F32x4) -> F32x4,
    scalar: impl Fn(f32, f32) -> f32,
) {
    let mut rows = rows.map(|y| &plane[y * w..][..w]);
    let Some(first) = rows.next() else { return };
    line.copy_from_slice(first);
    let vectors = w / 4 * 4;
    for row in rows {
        for x in (0..vectors).step_by(4) {
            reduce(F32x4::load(&line[x..]), F32x4::load(&row[x..])).store(&mut line[x..]);
        }
        for x in vectors..w {
            line[x] = scalar(line[x], row[x]);
        }
    }
}

#[inline(always)]
fn larger(m: f32, v: f32) -> f32 {
    // Plain comparison: `f32::max` is NaN-aware and several times slower.
    if v > m {
        v
    } else {
        m
    }
}

/// Max pooling, floor rounding, dilation 1; padding counts as -inf.
///
/// # Panics
/// When `input` is not `channels` planes of `h x w`, or a kernel or stride side is 0.
pub fn max_pool2d(
    input: &[f32],
    channels: usize,
    [h, w]: [usize; 2],
    [kh, kw]: [usize; 2],
    [sy, sx]: [usize; 2],
    [py, px]: [usize; 2],
) -> (Vec<f32>, [usize; 2]) {
    assert_eq!(input.len(), channels * h * w, "max_pool2d input is not {channels} planes of {h}x{w}");
    assert!(kh * kw * sy * sx > 0, "max_pool2d kernel {kh}x{kw} stride {sy}x{sx}");
    let (oh, ow) = (out_side(h, kh, sy, py), out_side(w, kw, sx, px));
    if oh * ow == 0 || h * w == 0 {
        // No window, or windows over padding alone.
        return (vec![f32::NEG_INFINITY; channels * oh * ow], [oh, ow]);
    }
    let mut out = vec![0.0; channels * oh * ow];
    let mut line = vec![f32::NEG_INFINITY; w + 2 * px];
    for (plane, out_plane) in input.chunks_exact(h * w).zip(out.chunks_exact_mut(oh * ow)) {
        for (oy, out_row) in out_plane.chunks_exact_mut(ow).enumerate() {
            let rows = window_rows(oy, kh, sy, py, h);
            let inner = &mut line[px..px + w];
            if rows.is_empty() {
                inner.fill(f32::NEG_INFINITY);
            }
            reduce_rows(plane, w, rows, inner, F32x4::max, larger);
            if kw == 3 {
                // SqueezeNet's and ResNet's pools: a short loop per output costs more than the comparisons.
                for (o, window) in out_row.iter_mut().zip(line.windows(3).step_by(sx)) {
                    *o = larger(larger(window[0], window[1]), window[2]);
                }
            } else {
                for (o, window) in out_row.iter_mut().zip(line.windows(kw).step_by(sx)) {
                    *o = window[1..].iter().fold(window[0], |m, &v| larger(m, v));
                }
            }
        }
    }
    (out, [oh, ow])
}

/// Average pooling, floor rounding; padded positions count in the divisor only with
/// `count_include_pad` (ONNX's attribute; Burn's default is `true`).
///
/// # Panics
/// When `input` is not `channels` planes of `h x w`, or a kernel or stride side is 0.
#[allow(clippy::too_many_arguments)]
pub fn avg_pool2d(
    input: &[f32],
    channels: usize,
    [h, w]: [usize; 2],
    [kh, kw]: [usize; 2],
    [sy, sx]: [usize; 2],
    [py, px]: [usize; 2],
    count_include_pad: bool,
) -> (Vec<f32>, [usize; 2]) {
    assert_eq!(input.len(), channels * h * w, "avg_pool2d input is not {channels} planes of {h}x{w}");
    assert!(kh * kw * sy * sx > 0, "avg_pool2d kernel {kh}x{kw} stride {sy}x{sx}");
    let (oh, ow) = (out_side(h, kh, sy, py), out_side(w, kw, sx, px));
    if oh * ow == 0 || h * w == 0 {
        // No window, or windows over padding alone.
        return (vec![0.0; channels * oh * ow], [oh, ow]);
    }
    let mut out = vec![0.0; channels * oh * ow];
    // Per output column, how many of its window's columns are inside the input.
    let inside_cols: Vec<usize> = (0..ow).map(|ox| window_rows(ox, kw, sx, px, w).len()).collect();
    let mut line = vec![0.0f32; w + 2 * px];
    for (plane, out_plane) in input.chunks_exact(h * w).zip(out.chunks_exact_mut(oh * ow)) {
        for (oy, out_row) in out_plane.chunks_exact_mut(ow).enumerate() {
            let rows = window_rows(oy, kh, sy, py, h);
            let inside_rows = rows.len();
            let inner = &mut line[px..px + w];
            if rows.is_empty() {
                inner.fill(0.0);
            }
            reduce_rows(plane, w, rows, inner, F32x4::add, |a, b| a + b);
            for ((o, window), &cols) in out_row.iter_mut().zip(line.windows(kw).step_by(sx)).zip(&inside_cols) {
                let count = if count_include_pad { kh * kw } else { inside_rows * cols };
                *o = window.iter().sum::<f32>() / count.max(1) as f32;
            }
        }
    }
    (out, [oh, ow])
}

/// Sum of `values`, four lanes at a time.
fn sum(values: &[f32]) -> f32 {
    let mut acc = F32x4::zero();
    let mut chunks = values.chunks_exact(4);
    for c in &mut chunks {
        acc = acc.add(F32x4::load(c));
    }
    acc.to_array().iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

/// Mean of each plane.
pub fn global_average(input: &[f32], channels: usize, plane: usize) -> Vec<f32> {
    assert_eq!(input.len(), channels * plane, "global_average input is not {channels} planes of {plane}");
    input.chunks_exact(plane).map(|p| sum(p) / plane as f32).collect()
}

/// Softmax in place, shifted by the maximum for stability.
pub fn softmax(values: &mut [f32]) {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in values.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in values.iter_mut() {
        *v /= sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::test_values::{assert_close, values};

    /// The definitions, one window at a time: `Some(include_pad)` averages, `None` takes maxima.
    fn naive(
        x: &[f32],
        c: usize,
        [h, w]: [usize; 2],
        [kh, kw]: [usize; 2],
        [sy, sx]: [usize; 2],
        [py, px]: [usize; 2],
        avg: Option<bool>,
    ) -> Vec<f32> {
        let (oh, ow) = ((h + 2 * py - kh) / sy + 1, (w + 2 * px - kw) / sx + 1);
        let mut out = Vec::new();
        for ch in 0..c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let (mut m, mut s, mut n) = (f32::NEG_INFINITY, 0.0, 0);
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let (iy, ix) = ((oy * sy + ky) as isize - py as isize, (ox * sx + kx) as isize - px as isize);
                            if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                let v = x[(ch * h + iy as usize) * w + ix as usize];
                                m = m.max(v);
                                s += v;
                                n += 1;
                            }
                        }
                    }
                    out.push(match avg {
                        None => m,
                        Some(true) => s / (kh * kw) as f32,
                        Some(false) => s / n as f32,
                    });
                }
            }
        }
        out
    }

    #[test]
    fn pools_match_the_definitions() {
        // (channels, input, kernel, stride, padding)
        for (c, hw, k, s, p) in [
            (2, [5, 5], [3, 3], [2, 2], [0, 0]),
            (3, [6, 6], [3, 3], [2, 2], [0, 0]),
            (2, [28, 28], [2, 2], [2, 2], [0, 0]),
            (3, [11, 13], [3, 3], [2, 2], [1, 1]),
            (2, [9, 7], [3, 2], [1, 2], [1, 1]),
            (1, [10, 9], [5, 5], [2, 3], [2, 2]),
            (2, [7, 7], [7, 7], [1, 1], [0, 0]),
            (2, [4, 6], [3, 3], [1, 1], [2, 1]),
        ] {
            let x = values(c * hw[0] * hw[1], 7);
            let what = format!("{c} {hw:?} k {k:?} s {s:?} p {p:?}");
            let (got, size) = max_pool2d(&x, c, hw, k, s, p);
            assert_close(&got, &naive(&x, c, hw, k, s, p, None), 0.0, &format!("max {what}"));
            assert_eq!(size[0] * size[1] * c, got.len());
            for include in [true, false] {
                let (got, _) = avg_pool2d(&x, c, hw, k, s, p, include);
                assert_close(&got, &naive(&x, c, hw, k, s, p, Some(include)), 1e-5, &format!("avg include_pad {include} {what}"));
            }
        }
    }

    #[test]
    fn max_pool_takes_window_maxima_with_floor_rounding() {
        // One 5x5 plane 0..25: 3x3 windows at stride 2 start at (0,0), (0,2), (2,0), (2,2).
        let plane: Vec<f32> = (0..25).map(|v| v as f32).collect();
        let (out, [oh, ow]) = max_pool2d(&plane, 1, [5, 5], [3, 3], [2, 2], [0, 0]);
        assert_eq!([oh, ow], [2, 2]);
        assert_eq!(out, vec![12.0, 14.0, 22.0, 24.0]);
        // Padding never wins over a negative plane.
        let plane: Vec<f32> = (0..36).map(|v| -(v as f32) - 1.0).collect();
        let (out, size) = max_pool2d(&plane, 1, [6, 6], [3, 3], [2, 2], [1, 1]);
        assert_eq!(size, [3, 3]);
        assert_eq!(out[0], -1.0);
        assert_eq!(max_pool2d(&plane, 1, [6, 6], [9, 9], [1, 1], [0, 0]).1, [0, 0]);
        // Windows over padding alone: the identity of each reduction, no panic.
        assert_eq!(max_pool2d(&[], 1, [0, 0], [1, 1], [1, 1], [1, 1]), (vec![f32::NEG_INFINITY; 4], [2, 2]));
        assert_eq!(avg_pool2d(&[], 2, [0, 0], [1, 1], [1, 1], [1, 1], true), (vec![0.0; 8], [2, 2]));
    }

    #[test]
    fn head_averages_planes_and_normalises() {
        assert_eq!(global_average(&[1.0, 3.0, 10.0, 20.0], 2, 2), vec![2.0, 15.0]);
        let x = values(3 * 49, 9);
        let got = global_average(&x, 3, 49);
        for (g, plane) in got.iter().zip(x.chunks_exact(49)) {
            assert!((g - plane.iter().sum::<f32>() / 49.0).abs() < 1e-6);
        }
        let mut v = vec![1.0, 2.0, 3.0];
        softmax(&mut v);
        assert!((v.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(v[2] > v[1] && v[1] > v[0]);
    }
}
