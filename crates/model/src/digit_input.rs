//! Turning any picture of a digit into the 28x28 input the MNIST model expects.
//!
//! MNIST digits are white on black, about 20x20 pixels inside a 28x28 frame, centred by their
//! centre of mass. A canvas drawing or a photo of ink on paper is none of that, so this module
//! reproduces the dataset's framing: luminance, polarity, bounding box, area-resample to 20
//! pixels on the long side, then centre of mass to the middle. A 28x28 image is taken to be
//! framed already and only has its polarity fixed. The CLI and the browser both call this, so
//! a digit is prepared the same way everywhere.

use crate::architectures::mnist_cnn::{MNIST_PIXELS, MNIST_SIDE};
use crate::image_size::{buffer_len, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE};
use crate::resample::resample_area;

/// Side of the box the digit is scaled into, as in MNIST.
const DIGIT_BOX: f32 = 20.0;
/// Pixels darker than this fraction of the brightest one are background.
const INK_THRESHOLD: f32 = 0.2;

/// Why an image could not be prepared.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DigitInputError {
    /// Width or height is zero.
    #[error("image is empty ({width}x{height})")]
    Empty {
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
    },
    /// Larger than [`MAX_IMAGE_SIDE`] a side or [`MAX_IMAGE_PIXELS`] in all.
    #[error("image is too large ({width}x{height}): at most {MAX_IMAGE_SIDE} pixels a side and {MAX_IMAGE_PIXELS} in all")]
    TooLarge {
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
    },
    /// The pixel buffer does not have `width * height * channels` values.
    #[error("pixel buffer has {actual} values, expected {expected} for {width}x{height} with {channels} channel(s)")]
    WrongLength {
        /// Values received.
        actual: usize,
        /// Values expected.
        expected: usize,
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
        /// Channels per pixel.
        channels: usize,
    },
}

/// Luminance in `0..=1` from RGBA bytes, composited over white (transparent = paper).
pub fn luminance_from_rgba(rgba: &[u8], width: usize, height: usize) -> Result<Vec<f32>, DigitInputError> {
    check_len(rgba.len(), width, height, 4)?;
    Ok(rgba
        .chunks_exact(4)
        .map(|p| {
            let lum = (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) / 255.0;
            let alpha = p[3] as f32 / 255.0;
            alpha * lum + (1.0 - alpha)
        })
        .collect())
}

/// MNIST-framed input (784 values, white digit on black, `0..=1`) from RGBA bytes.
pub fn digit_from_rgba(rgba: &[u8], width: usize, height: usize) -> Result<Vec<f32>, DigitInputError> {
    digit_from_luminance(&luminance_from_rgba(rgba, width, height)?, width, height)
}

/// MNIST-framed input (784 values) from luminance in `0..=1`, any size and polarity.
pub fn digit_from_luminance(lum: &[f32], width: usize, height: usize) -> Result<Vec<f32>, DigitInputError> {
    check_len(lum.len(), width, height, 1)?;
    let ink = to_ink(lum, width, height);
    if width == MNIST_SIDE && height == MNIST_SIDE {
        return Ok(ink);
    }
    Ok(frame(&ink, width, height))
}

fn check_len(actual: usize, width: usize, height: usize, channels: usize) -> Result<(), DigitInputError> {
    if width == 0 || height == 0 {
        return Err(DigitInputError::Empty { width, height });
    }
    let expected = buffer_len(width, height, channels).ok_or(DigitInputError::TooLarge { width, height })?;
    if actual != expected {
        return Err(DigitInputError::WrongLength { actual, expected, width, height, channels });
    }
    Ok(())
}

/// Ink intensity: bright digit on dark background, whichever way the picture was.
fn to_ink(lum: &[f32], width: usize, height: usize) -> Vec<f32> {
    let mut border = 0.0;
    let mut count = 0.0;
    for y in 0..height {
        for x in 0..width {
            if x == 0 || y == 0 || x == width - 1 || y == height - 1 {
                border += lum[y * width + x];
                count += 1.0;
            }
        }
    }
    let light_background = border / count > 0.5;
    lum.iter()
        .map(|&v| {
            let v = v.clamp(0.0, 1.0);
            if light_background {
                1.0 - v
            } else {
                v
            }
        })
        .collect()
}

/// Crop to the ink, scale into a 20-pixel box, and centre by mass in a 28x28 frame.
fn frame(ink: &[f32], width: usize, height: usize) -> Vec<f32> {
    let peak = ink.iter().cloned().fold(0.0f32, f32::max);
    let mut out = vec![0.0; MNIST_PIXELS];
    if peak <= 0.0 {
        return out; // blank picture: a blank digit
    }
    let (mut x0, mut y0, mut x1, mut y1) = (width, height, 0, 0);
    for y in 0..height {
        for x in 0..width {
            if ink[y * width + x] > INK_THRESHOLD * peak {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x + 1);
                y1 = y1.max(y + 1);
            }
        }
    }
    let (cw, ch) = ((x1 - x0) as f32, (y1 - y0) as f32);
    let scale = DIGIT_BOX / cw.max(ch);
    let dw = ((cw * scale).round() as usize).clamp(1, MNIST_SIDE);
    let dh = ((ch * scale).round() as usize).clamp(1, MNIST_SIDE);
    let small = resample_area(ink, width, (x0, y0, cw, ch), dw, dh);

    // Centre of mass of the scaled digit, moved to the frame's centre.
    let (mut mass, mut mx, mut my) = (0.0, 0.0, 0.0);
    for y in 0..dh {
        for x in 0..dw {
            let v = small[y * dw + x];
            mass += v;
            mx += v * (x as f32 + 0.5);
            my += v * (y as f32 + 0.5);
        }
    }
    let half = MNIST_SIDE as f32 / 2.0;
    let (cx, cy) = if mass > 0.0 { (mx / mass, my / mass) } else { (dw as f32 / 2.0, dh as f32 / 2.0) };
    let ox = ((half - cx).round() as isize).clamp(0, (MNIST_SIDE - dw) as isize) as usize;
    let oy = ((half - cy).round() as isize).clamp(0, (MNIST_SIDE - dh) as isize) as usize;
    for y in 0..dh {
        for x in 0..dw {
            out[(oy + y) * MNIST_SIDE + ox + x] = small[y * dw + x];
        }
    }
    let top = out.iter().cloned().fold(0.0f32, f32::max);
    if top > 0.0 {
        out.iter_mut().for_each(|v| *v = (*v / top).min(1.0));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dark stroke on white paper, `size` pixels wide, drawn off-centre.
    fn paper_with_bar(size: usize) -> Vec<u8> {
        let mut rgba = vec![255u8; size * size * 4];
        for y in size / 10..size / 2 {
            for x in size / 10..size / 10 + size / 20 + 1 {
                let i = (y * size + x) * 4;
                rgba[i..i + 3].copy_from_slice(&[0, 0, 0]);
            }
        }
        rgba
    }

    #[test]
    fn dark_ink_on_paper_becomes_a_centred_white_digit() {
        let digit = digit_from_rgba(&paper_with_bar(280), 280, 280).unwrap();
        assert_eq!(digit.len(), MNIST_PIXELS);
        // Corners are background, the centre is ink.
        assert_eq!(digit[0], 0.0);
        assert!(digit[14 * MNIST_SIDE + 14] > 0.5, "centre is {}", digit[14 * 28 + 14]);
        // The bar is 20 rows tall after scaling to the MNIST box.
        let rows = (0..MNIST_SIDE).filter(|y| digit[y * MNIST_SIDE..(y + 1) * MNIST_SIDE].iter().any(|&v| v > 0.3)).count();
        assert_eq!(rows, 20);
    }

    #[test]
    fn mnist_sized_images_keep_their_framing() {
        let mut lum = vec![0.0; MNIST_PIXELS];
        lum[3 * MNIST_SIDE + 5] = 0.75;
        assert_eq!(digit_from_luminance(&lum, 28, 28).unwrap(), lum);
    }

    #[test]
    fn blank_canvas_is_a_blank_digit() {
        let digit = digit_from_rgba(&vec![255; 50 * 40 * 4], 50, 40).unwrap();
        assert!(digit.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn transparent_pixels_count_as_paper() {
        let lum = luminance_from_rgba(&[0, 0, 0, 0, 0, 0, 0, 255], 2, 1).unwrap();
        assert_eq!(lum, vec![1.0, 0.0]);
    }

    #[test]
    fn wrong_buffer_sizes_are_named() {
        assert_eq!(
            digit_from_rgba(&[0; 7], 2, 1).unwrap_err().to_string(),
            "pixel buffer has 7 values, expected 8 for 2x1 with 4 channel(s)"
        );
        assert!(matches!(digit_from_luminance(&[], 0, 5), Err(DigitInputError::Empty { .. })));
    }

    #[test]
    fn sizes_past_the_limits_are_too_large_and_never_wrap() {
        // 65536 x 65536 x 4 wraps to 0 in a 32-bit usize (wasm32); usize::MAX x 2 everywhere.
        for (width, height) in [(65_536, 65_536), (usize::MAX, 2), (usize::MAX / 2, usize::MAX / 2), (MAX_IMAGE_SIDE + 1, 1)] {
            assert_eq!(digit_from_rgba(&[], width, height), Err(DigitInputError::TooLarge { width, height }));
            assert_eq!(digit_from_luminance(&[], width, height), Err(DigitInputError::TooLarge { width, height }));
        }
        assert!(matches!(digit_from_rgba(&[], MAX_IMAGE_SIDE, MAX_IMAGE_SIDE), Err(DigitInputError::TooLarge { .. })));
    }
}
