//! Area-average resampling of one image plane: each output pixel is the mean of the source
//! area it covers (exact box filter), which never aliases when shrinking photos and is what
//! both the digit framing and the image classifiers use.

/// Resamples the crop `(x0, y0, w, h)` (fractional sizes allowed) of the `width`-wide plane
/// `src` to `dw x dh`.
pub(crate) fn resample_area(src: &[f32], width: usize, crop: (usize, usize, f32, f32), dw: usize, dh: usize) -> Vec<f32> {
    let height = src.len() / width.max(1);
    let (x0, y0, cw, ch) = crop;
    let sx = cw / dw as f32;
    let sy = ch / dh as f32;
    // Rounding must never step past the last row or column.
    let x_end = (x0 as f32 + cw).min(width as f32);
    let y_end = (y0 as f32 + ch).min(height as f32);
    let mut out = vec![0.0; dw * dh];
    for oy in 0..dh {
        let (fy0, fy1) = (y0 as f32 + oy as f32 * sy, (y0 as f32 + (oy + 1) as f32 * sy).min(y_end));
        for ox in 0..dw {
            let (fx0, fx1) = (x0 as f32 + ox as f32 * sx, (x0 as f32 + (ox + 1) as f32 * sx).min(x_end));
            let (mut sum, mut area) = (0.0, 0.0);
            let mut y = fy0.floor() as usize;
            while (y as f32) < fy1 && y < height {
                let wy = (fy1.min(y as f32 + 1.0) - fy0.max(y as f32)).max(0.0);
                let mut x = fx0.floor() as usize;
                while (x as f32) < fx1 && x < width {
                    let wx = (fx1.min(x as f32 + 1.0) - fx0.max(x as f32)).max(0.0);
                    sum += src[y * width + x] * wx * wy;
                    area += wx * wy;
                    x += 1;
                }
                y += 1;
            }
            out[oy * dw + ox] = if area > 0.0 { sum / area } else { 0.0 };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halving_averages_two_by_two_blocks() {
        let src = [0.0, 2.0, 4.0, 6.0, 4.0, 6.0, 8.0, 10.0];
        assert_eq!(resample_area(&src, 4, (0, 0, 4.0, 2.0), 2, 1), vec![3.0, 7.0]);
    }

    #[test]
    fn same_size_is_identity_and_upscaling_repeats() {
        let src = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(resample_area(&src, 2, (0, 0, 2.0, 2.0), 2, 2), src.to_vec());
        assert_eq!(resample_area(&src, 2, (0, 0, 2.0, 2.0), 4, 1), vec![2.0, 2.0, 3.0, 3.0]);
    }

    #[test]
    fn odd_ratios_stay_inside_the_plane() {
        let src: Vec<f32> = (0..7 * 5).map(|v| v as f32).collect();
        let out = resample_area(&src, 7, (0, 0, 7.0, 5.0), 3, 3);
        assert_eq!(out.len(), 9);
        assert!(out.iter().all(|v| (0.0..35.0).contains(v)));
    }
}
