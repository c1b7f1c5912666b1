//! Photos to model input as a manifest's input schema says: the browser hands over RGBA pixels
//! (from a canvas, an `ImageBitmap` or an `<img>`) and the schema JSON, and gets the planar
//! tensor values back. The preprocessing itself lives in the model crate, shared with the CLI.

use burn_edge_formats::InputSchema;
use burn_edge_model::ImageSpec;

use crate::RuntimeError;

/// Model input (planar `[channels, height, width]`) from `width x height` RGBA bytes, prepared
/// per `input_schema` (the manifest's `input` object, as JSON).
pub fn prepare_image(rgba: &[u8], width: usize, height: usize, input_schema: &str) -> Result<Vec<f32>, RuntimeError> {
    let schema: InputSchema = serde_json::from_str(input_schema).map_err(|e| {
        RuntimeError::Photo(burn_edge_model::ImageInputError::Schema(format!(
            "input schema is not valid JSON for the manifest's `input`: {e}"
        )))
    })?;
    Ok(ImageSpec::from_schema(&schema)?.prepare(rgba, width, height)?)
}
