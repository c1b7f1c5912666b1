//! Flat model input: whole examples of an architecture's shape, checked before any tensor is
//! built (the runtime, the CLI and the CPU plans all take planar `f32` values).

use burn::prelude::*;

/// Why a batch of values cannot become model input.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// No values at all.
    #[error("input is empty: expected {per} values ({}) per example", shape_text(shape))]
    Empty { per: usize, shape: Vec<usize> },
    /// The length is not a whole number of examples.
    #[error("input length {len} is not a multiple of {per} ({} per example)", shape_text(shape))]
    NotWholeExamples { len: usize, per: usize, shape: Vec<usize> },
    /// NaN or infinity among the values.
    #[error("input value at index {0} is not a finite number")]
    NotFinite(usize),
}

fn shape_text(shape: &[usize]) -> String {
    shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("x")
}

/// The batch size of flat values of whole examples of `shape` (one example, no batch
/// dimension), all finite.
pub fn check_input(values: &[f32], shape: &[usize]) -> Result<usize, InputError> {
    let per: usize = shape.iter().product();
    if values.is_empty() || per == 0 {
        return Err(InputError::Empty { per, shape: shape.to_vec() });
    }
    if !values.len().is_multiple_of(per) {
        return Err(InputError::NotWholeExamples { len: values.len(), per, shape: shape.to_vec() });
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(InputError::NotFinite(i));
    }
    Ok(values.len() / per)
}

/// A `[batch, ..shape]` tensor of rank `D` (= `shape.len() + 1`) from flat values of whole
/// examples, checked by [`check_input`].
pub fn input_tensor<const D: usize>(values: &[f32], shape: &[usize], device: &Device) -> Result<Tensor<D>, InputError> {
    let batch = check_input(values, shape)?;
    debug_assert_eq!(shape.len() + 1, D, "an architecture's input shape and rank disagree");
    let dims: Vec<usize> = std::iter::once(batch).chain(shape.iter().copied()).collect();
    Ok(Tensor::from_data(TensorData::new(values.to_vec(), dims), device))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_shapes_and_values_are_checked_for_any_rank() {
        assert_eq!(check_input(&[0.0; 64], &[32]), Ok(2));
        assert_eq!(check_input(&[0.0; 3 * 4], &[3, 2, 2]), Ok(1));
        assert_eq!(check_input(&[], &[32]).unwrap_err().to_string(), "input is empty: expected 32 values (32) per example");
        assert_eq!(
            check_input(&[0.0; 100], &[1, 28, 28]).unwrap_err().to_string(),
            "input length 100 is not a multiple of 784 (1x28x28 per example)"
        );
        let mut nan = vec![0.0; 32];
        nan[9] = f32::NAN;
        assert_eq!(check_input(&nan, &[32]), Err(InputError::NotFinite(9)));
        let t: Tensor<2> = input_tensor(&[1.0; 64], &[32], &Device::flex()).unwrap();
        assert_eq!(t.dims(), [2, 32]);
    }
}
