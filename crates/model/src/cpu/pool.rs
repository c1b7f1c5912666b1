//! Pooling and the classifier head on NCHW planes of one image.

use super::simd::F32x4;

/// Max pooling without padding, floor rounding (the only mode the CPU plans use).
pub fn max_pool(input: &[f32], channels: usize, [h, w]: [usize; 2], kernel: usize, stride: usize) -> (Vec<f32>, [usize; 2]) {
    assert_eq!(input.len(), channels * h * w, "max_pool input is not {channels} planes of {h}x{w}");
    assert!(kernel <= h && kernel <= w, "max_pool kernel {kernel} larger than {h}x{w}");
    let (oh, ow) = ((h - kernel) / stride + 1, (w - kernel) / stride + 1);
    let mut out = vec![0.0; channels * oh * ow];
    // Column maxima of one output row's window (four lanes at a time), then maxima across
    // each window's columns. Plain comparisons: `f32::max` is NaN-aware and several times slower.
    let mut cols = vec![0.0f32; w];
    let vectors = w / 4 * 4;
    for (plane, out_plane) in input.chunks_exact(h * w).zip(out.chunks_exact_mut(oh * ow)) {
        for (oy, out_row) in out_plane.chunks_exact_mut(ow).enumerate() {
            let top = oy * stride;
            cols.copy_from_slice(&plane[top * w..][..w]);
            for ky in 1..kernel {
                let row = &plane[(top + ky) * w..][..w];
                for x in (0..vectors).step_by(4) {
                    F32x4::load(&cols[x..]).max(F32x4::load(&row[x..])).store(&mut cols[x..]);
                }
                for x in vectors..w {
                    if row[x] > cols[x] {
                        cols[x] = row[x];
                    }
                }
            }
            let larger = |m: f32, v: f32| if v > m { v } else { m };
            if kernel == 3 {
                // SqueezeNet's pools: a short loop per output costs more than the comparisons.
                for (o, window) in out_row.iter_mut().zip(cols.windows(3).step_by(stride)) {
                    *o = larger(larger(window[0], window[1]), window[2]);
                }
            } else {
                for (o, window) in out_row.iter_mut().zip(cols.windows(kernel).step_by(stride)) {
                    *o = window[1..].iter().fold(window[0], |m, &v| larger(m, v));
                }
            }
        }
    }
    (out, [oh, ow])
}

/// Mean of each plane.
pub fn global_average(input: &[f32], channels: usize, plane: usize) -> Vec<f32> {
    assert_eq!(input.len(), channels * plane, "global_average input is not {channels} planes of {plane}");
    input.chunks_exact(plane).map(|p| p.iter().sum::<f32>() / plane as f32).collect()
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

    #[test]
    fn max_pool_takes_window_maxima_with_floor_rounding() {
        // One 5x5 plane 0..25: 3x3 windows at stride 2 start at (0,0), (0,2), (2,0), (2,2).
        let plane: Vec<f32> = (0..25).map(|v| v as f32).collect();
        let (out, [oh, ow]) = max_pool(&plane, 1, [5, 5], 3, 2);
        assert_eq!([oh, ow], [2, 2]);
        assert_eq!(out, vec![12.0, 14.0, 22.0, 24.0]);
        // 6x6 floors to 2x2 as well; a negative plane keeps its maxima.
        let plane: Vec<f32> = (0..36).map(|v| -(v as f32)).collect();
        let (out, size) = max_pool(&plane, 1, [6, 6], 3, 2);
        assert_eq!(size, [2, 2]);
        assert_eq!(out, vec![0.0, -2.0, -12.0, -14.0]);
    }

    #[test]
    fn head_averages_planes_and_normalises() {
        assert_eq!(global_average(&[1.0, 3.0, 10.0, 20.0], 2, 2), vec![2.0, 15.0]);
        let mut v = vec![1.0, 2.0, 3.0];
        softmax(&mut v);
        assert!((v.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(v[2] > v[1] && v[1] > v[0]);
    }
}
