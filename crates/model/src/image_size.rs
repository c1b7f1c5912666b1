//! The largest picture preprocessing takes, and buffer sizes computed without overflow: on
//! wasm32 `usize` is 32 bits, where `width * height * 4` wraps for a 32768 x 32768 picture and
//! an unchecked product would let a short buffer pass for a huge image.

/// Longest side accepted, in pixels.
pub const MAX_IMAGE_SIDE: usize = 16_384;
/// Pixels accepted in all (64 Mi: a 8192 x 8192 picture; phone photos are 12-50 M).
pub const MAX_IMAGE_PIXELS: usize = 1 << 26;

/// `width * height * channels` when the picture is within the limits, else `None`.
pub(crate) fn buffer_len(width: usize, height: usize, channels: usize) -> Option<usize> {
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return None;
    }
    width.checked_mul(height).filter(|&p| p <= MAX_IMAGE_PIXELS)?.checked_mul(channels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_hold_and_products_never_wrap() {
        assert_eq!(buffer_len(2, 3, 4), Some(24));
        assert_eq!(buffer_len(MAX_IMAGE_SIDE, MAX_IMAGE_PIXELS / MAX_IMAGE_SIDE, 4), Some(MAX_IMAGE_PIXELS * 4));
        assert_eq!(buffer_len(MAX_IMAGE_SIDE + 1, 1, 4), None);
        assert_eq!(buffer_len(MAX_IMAGE_SIDE, MAX_IMAGE_SIDE, 4), None, "over the pixel budget");
        // 65536 x 65536 x 4 = 2^34 wraps to 0 in 32 bits; usize::MAX squared wraps anywhere.
        assert_eq!(buffer_len(65_536, 65_536, 4), None);
        assert_eq!(buffer_len(usize::MAX, usize::MAX, 4), None);
    }
}
