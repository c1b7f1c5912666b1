//! Photos to image-classifier input, as a model's input schema says: fit to the input size
//! (stretch, scale the short side and take the centre, or frame a digit as MNIST's:
//! `digit_input.rs`), area-resample, channel order (RGB,
//! BGR or grayscale), scale to a value range, then optional per-channel mean and std. Output is
//! planar (channels, height, width). The CLI, the tests and the browser (through the wasm
//! runtime) all call this, so an image is prepared the same way everywhere. Alpha is ignored:
//! photos are opaque.

use burn_edge_formats::InputSchema;

use crate::architectures::mnist_cnn::MNIST_SIDE;
use crate::digit_input::{digit_from_rgba, DigitInputError};
use crate::image_size::{buffer_len, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE};
use crate::resample::resample_area;

/// Channel order the model reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorOrder {
    Rgb,
    Bgr,
    Grayscale,
}

/// How a picture of another aspect ratio is fitted to the input size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Resize to the input size, ignoring the aspect ratio.
    Stretch,
    /// Scale the shorter side to the input size and keep the centre (ImageNet style).
    CenterCrop,
    /// A digit framed as in MNIST (`mnist-digit`): ink found, scaled into 20x20 and centred
    /// by mass in 28x28, white on black; grayscale 28x28 input only.
    MnistDigit,
}

/// Why an image could not be prepared.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImageInputError {
    #[error("image is empty ({width}x{height})")]
    Empty { width: usize, height: usize },
    #[error("image is too large ({width}x{height}): at most {MAX_IMAGE_SIDE} pixels a side and {MAX_IMAGE_PIXELS} in all")]
    TooLarge { width: usize, height: usize },
    #[error("pixel buffer has {actual} bytes, expected {expected} for {width}x{height} RGBA")]
    WrongLength { actual: usize, expected: usize, width: usize, height: usize },
    #[error("unsupported input schema: {0}")]
    Schema(String),
}

/// What the model takes, from its manifest's input schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSpec {
    pub width: usize,
    pub height: usize,
    pub color: ColorOrder,
    pub fit: Fit,
    /// Pixel values `0..=255` map linearly onto `[range[0], range[1]]`.
    pub range: [f32; 2],
    /// Subtracted per channel after scaling (in model channel order).
    pub mean: Option<Vec<f32>>,
    /// Divided by per channel after the mean.
    pub std: Option<Vec<f32>>,
}

impl ImageSpec {
    /// From the schema's fields: `shape` = `[channels, height, width]`, `color` = `rgb` | `bgr`
    /// | `grayscale`, `fit` = `stretch` | `center-crop` | `mnist-digit` (grayscale 28x28).
    pub fn new(
        shape: &[u32],
        color: &str,
        fit: &str,
        range: [f32; 2],
        mean: Option<Vec<f32>>,
        std: Option<Vec<f32>>,
    ) -> Result<Self, ImageInputError> {
        let bad = |m: String| Err(ImageInputError::Schema(m));
        let [channels, height, width] = shape else {
            return bad(format!("shape {shape:?} is not [channels, height, width]"));
        };
        let color = match color {
            "rgb" => ColorOrder::Rgb,
            "bgr" => ColorOrder::Bgr,
            "grayscale" => ColorOrder::Grayscale,
            other => return bad(format!("color {other:?} (expected rgb, bgr or grayscale)")),
        };
        let want = if color == ColorOrder::Grayscale { 1 } else { 3 };
        if *channels != want {
            return bad(format!("{channels} channels for color {color:?}"));
        }
        let fit = match fit {
            "stretch" => Fit::Stretch,
            "center-crop" => Fit::CenterCrop,
            "mnist-digit" => Fit::MnistDigit,
            other => return bad(format!("fit {other:?} (expected stretch, center-crop or mnist-digit)")),
        };
        let side = MNIST_SIDE as u32;
        if fit == Fit::MnistDigit && shape != [1, side, side] {
            return bad(format!("fit \"mnist-digit\" frames a grayscale {side}x{side} digit, not shape {shape:?}"));
        }
        for (name, v) in [("mean", &mean), ("std", &std)] {
            if let Some(v) = v.as_ref().filter(|v| v.len() != want as usize) {
                return bad(format!("{name} has {} values for {want} channel(s)", v.len()));
            }
        }
        if std.as_ref().is_some_and(|s| s.contains(&0.0)) {
            return bad("std has a zero".into());
        }
        if *width == 0 || *height == 0 {
            return bad(format!("shape {shape:?} has a zero side"));
        }
        // The model input is allocated at this size: the manifest is untrusted too.
        if buffer_len(*width as usize, *height as usize, want as usize).is_none() {
            return bad(format!("shape {shape:?} is larger than {MAX_IMAGE_SIDE} a side or {MAX_IMAGE_PIXELS} pixels"));
        }
        Ok(ImageSpec { width: *width as usize, height: *height as usize, color, fit, range, mean, std })
    }

    /// From a manifest's input schema.
    pub fn from_schema(schema: &InputSchema) -> Result<Self, ImageInputError> {
        let Some(p) = &schema.preprocessing else {
            return Err(ImageInputError::Schema(
                "the input schema has no image preprocessing: this model takes its input values as they are, not images".into(),
            ));
        };
        Self::new(&schema.shape, &p.color, &p.fit, p.range, p.mean.clone(), p.std.clone())
    }

    /// Values per example: channels x height x width.
    pub fn len(&self) -> usize {
        self.channels() * self.width * self.height
    }

    /// Whether the input is empty (never, for a valid spec).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn channels(&self) -> usize {
        if self.color == ColorOrder::Grayscale {
            1
        } else {
            3
        }
    }

    /// Model input (planar, `len()` values) from RGBA bytes of a `width x height` image.
    pub fn prepare(&self, rgba: &[u8], width: usize, height: usize) -> Result<Vec<f32>, ImageInputError> {
        if width == 0 || height == 0 {
            return Err(ImageInputError::Empty { width, height });
        }
        let expected = buffer_len(width, height, 4).ok_or(ImageInputError::TooLarge { width, height })?;
        if rgba.len() != expected {
            return Err(ImageInputError::WrongLength { actual: rgba.len(), expected, width, height });
        }
        if self.fit == Fit::MnistDigit {
            // Framed ink in 0..=1, then the schema's range, mean and std like any image.
            let ink = digit_from_rgba(rgba, width, height).map_err(|e| match e {
                DigitInputError::Empty { width, height } => ImageInputError::Empty { width, height },
                DigitInputError::TooLarge { width, height } => ImageInputError::TooLarge { width, height },
                DigitInputError::WrongLength { actual, expected, width, height, .. } => {
                    ImageInputError::WrongLength { actual, expected, width, height }
                }
            })?;
            let (mean, std) = (self.mean.as_ref().map_or(0.0, |m| m[0]), self.std.as_ref().map_or(1.0, |s| s[0]));
            let scale = self.range[1] - self.range[0];
            return Ok(ink.into_iter().map(|v| ((self.range[0] + v * scale) - mean) / std).collect());
        }
        let crop = match self.fit {
            Fit::MnistDigit | Fit::Stretch => (0.0, 0.0, width as f32, height as f32),
            Fit::CenterCrop => {
                // The largest centred window with the input's aspect ratio.
                let aspect = self.width as f32 / self.height as f32;
                let (cw, ch) = if width as f32 / height as f32 > aspect {
                    (height as f32 * aspect, height as f32)
                } else {
                    (width as f32, width as f32 / aspect)
                };
                (((width as f32 - cw) / 2.0).floor(), ((height as f32 - ch) / 2.0).floor(), cw, ch)
            }
        };
        let sources: &[usize] = match self.color {
            ColorOrder::Rgb => &[0, 1, 2],
            ColorOrder::Bgr => &[2, 1, 0],
            ColorOrder::Grayscale => &[],
        };
        let planes: Vec<Vec<f32>> = if sources.is_empty() {
            vec![rgba.chunks_exact(4).map(|p| 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32).collect()]
        } else {
            sources.iter().map(|&c| rgba.chunks_exact(4).map(|p| p[c] as f32).collect()).collect()
        };
        let scale = (self.range[1] - self.range[0]) / 255.0;
        let mut out = Vec::with_capacity(self.len());
        for (c, plane) in planes.iter().enumerate() {
            let mean = self.mean.as_ref().map_or(0.0, |m| m[c]);
            let std = self.std.as_ref().map_or(1.0, |s| s[c]);
            let resized = resample_area(plane, width, (crop.0 as usize, crop.1 as usize, crop.2, crop.3), self.width, self.height);
            out.extend(resized.into_iter().map(|v| ((self.range[0] + v * scale) - mean) / std));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bgr_224() -> ImageSpec {
        ImageSpec::new(&[3, 224, 224], "bgr", "center-crop", [0.0, 255.0], None, None).unwrap()
    }

    #[test]
    fn mnist_digit_fit_frames_the_digit_as_prepare_digit_does() {
        // A published MNIST manifest's schema: grayscale [1, 28, 28], fit mnist-digit, range 0..1.
        let spec = ImageSpec::new(&[1, 28, 28], "grayscale", "mnist-digit", [0.0, 1.0], None, None).unwrap();
        let (w, h) = (90, 60);
        let mut rgba = [255u8, 255, 255, 255].repeat(w * h); // black ink on white paper
        for y in 10..50 {
            for x in 40..48 {
                rgba[(y * w + x) * 4..][..3].copy_from_slice(&[0, 0, 0]);
            }
        }
        let framed = spec.prepare(&rgba, w, h).unwrap();
        assert_eq!(framed, digit_from_rgba(&rgba, w, h).unwrap());
        assert!(framed.iter().any(|&v| v > 0.5) && framed.len() == 784);
        // The range, mean and std still apply.
        let scaled = ImageSpec::new(&[1, 28, 28], "grayscale", "mnist-digit", [-1.0, 1.0], Some(vec![0.5]), Some(vec![2.0])).unwrap();
        let values = scaled.prepare(&rgba, w, h).unwrap();
        assert!(values.iter().zip(&framed).all(|(v, f)| (v - ((-1.0 + 2.0 * f) - 0.5) / 2.0).abs() < 1e-6));
        assert_eq!(
            spec.prepare(&rgba[4..], w, h).unwrap_err(),
            ImageInputError::WrongLength { actual: rgba.len() - 4, expected: rgba.len(), width: w, height: h }
        );
        for (shape, color) in [(&[3u32, 28, 28][..], "rgb"), (&[1, 32, 32], "grayscale")] {
            let err = ImageSpec::new(shape, color, "mnist-digit", [0.0, 1.0], None, None).unwrap_err().to_string();
            assert!(err.contains("mnist-digit") || err.contains("channels"), "{err}");
        }
    }

    #[test]
    fn a_uniform_photo_becomes_uniform_planes_in_model_channel_order() {
        let rgba: Vec<u8> = [10u8, 20, 30, 255].repeat(300 * 200);
        let input = bgr_224().prepare(&rgba, 300, 200).unwrap();
        assert_eq!(input.len(), 3 * 224 * 224);
        let plane = 224 * 224;
        assert!(input[..plane].iter().all(|&v| (v - 30.0).abs() < 1e-3), "blue first");
        assert!(input[plane..2 * plane].iter().all(|&v| (v - 20.0).abs() < 1e-3));
        assert!(input[2 * plane..].iter().all(|&v| (v - 10.0).abs() < 1e-3));
    }

    #[test]
    fn center_crop_drops_the_sides_of_a_wide_image() {
        // 4x2: left column pair red, right pair blue... crop to 2x2 keeps the middle columns.
        let px = |r: u8| [r, 0, 0, 255];
        let rgba: Vec<u8> = [px(0), px(100), px(200), px(250)].concat().repeat(2);
        let spec = ImageSpec::new(&[3, 2, 2], "rgb", "center-crop", [0.0, 255.0], None, None).unwrap();
        assert_eq!(&spec.prepare(&rgba, 4, 2).unwrap()[..4], &[100.0, 200.0, 100.0, 200.0]);
        let stretch = ImageSpec { fit: Fit::Stretch, ..spec };
        assert_eq!(&stretch.prepare(&rgba, 4, 2).unwrap()[..4], &[50.0, 225.0, 50.0, 225.0]);
    }

    #[test]
    fn range_mean_and_std_apply_per_channel() {
        let spec = ImageSpec::new(&[3, 1, 1], "rgb", "stretch", [0.0, 1.0], Some(vec![0.5, 0.0, 0.0]), Some(vec![0.5, 1.0, 2.0])).unwrap();
        let out = spec.prepare(&[255, 255, 51, 0], 1, 1).unwrap();
        assert!((out[0] - 1.0).abs() < 1e-6 && (out[1] - 1.0).abs() < 1e-6 && (out[2] - 0.1).abs() < 1e-6, "{out:?}");
    }

    #[test]
    fn bad_inputs_and_schemas_are_named() {
        assert_eq!(bgr_224().prepare(&[0; 7], 2, 1).unwrap_err().to_string(), "pixel buffer has 7 bytes, expected 8 for 2x1 RGBA");
        assert!(matches!(bgr_224().prepare(&[], 0, 1), Err(ImageInputError::Empty { .. })));
        let err = |r: Result<ImageSpec, ImageInputError>| r.unwrap_err().to_string();
        assert!(err(ImageSpec::new(&[3, 224], "bgr", "stretch", [0.0, 1.0], None, None)).contains("not [channels, height, width]"));
        assert!(err(ImageSpec::new(&[3, 2, 2], "cmyk", "stretch", [0.0, 1.0], None, None)).contains("color \"cmyk\""));
        assert!(err(ImageSpec::new(&[1, 2, 2], "rgb", "stretch", [0.0, 1.0], None, None)).contains("1 channels"));
        assert!(err(ImageSpec::new(&[3, 2, 2], "rgb", "zoom", [0.0, 1.0], None, None)).contains("fit \"zoom\""));
        assert!(err(ImageSpec::new(&[3, 2, 2], "rgb", "stretch", [0.0, 1.0], Some(vec![1.0]), None)).contains("mean has 1 values"));
        // A manifest asking for a 4-billion-value input: refused before anything is allocated.
        assert!(err(ImageSpec::new(&[3, 40_000, 40_000], "rgb", "stretch", [0.0, 1.0], None, None)).contains("is larger than"));
    }

    #[test]
    fn sizes_past_the_limits_are_too_large_and_never_wrap() {
        // 65536 x 65536 x 4 = 2^34 wraps to 0 where usize is 32 bits (wasm32): an empty buffer
        // would pass for the picture there. usize::MAX x 2 overflows everywhere.
        for (width, height) in [(65_536, 65_536), (usize::MAX, 2), (usize::MAX / 2, usize::MAX / 2), (MAX_IMAGE_SIDE + 1, 1)] {
            assert_eq!(bgr_224().prepare(&[], width, height), Err(ImageInputError::TooLarge { width, height }));
        }
        // Inside the side limit, over the pixel budget.
        let err = bgr_224().prepare(&[], MAX_IMAGE_SIDE, MAX_IMAGE_SIDE).unwrap_err();
        assert_eq!(err.to_string(), "image is too large (16384x16384): at most 16384 pixels a side and 67108864 in all");
        // The length must match exactly, also for the largest accepted sizes.
        let (w, h) = (MAX_IMAGE_SIDE, MAX_IMAGE_PIXELS / MAX_IMAGE_SIDE);
        assert!(matches!(bgr_224().prepare(&[0; 8], w, h), Err(ImageInputError::WrongLength { .. })));
    }
}
