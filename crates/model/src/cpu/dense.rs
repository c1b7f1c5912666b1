//! Fully connected layer (`y = act(x·W + b)`, Burn's `Linear` layout) on the packed GEMM: the
//! weights are packed once as `[out x in]`, a batch of examples is the product's columns; a
//! batch of one or a few runs row by row as matrix-vector products instead.

use super::activation::Activation;
use super::error::KernelError;
use super::gemm::{gemm, gemv, Epilogue, PackedA, NR};

/// Below this many rows a batch runs as matrix-vector products (a panel of the product has
/// `NR` columns: a small batch would mostly multiply zeros).
const GEMV_BELOW: usize = 4;

/// A linear layer with its weights packed for [`gemm`].
#[derive(Debug, Clone)]
pub struct Dense {
    inputs: usize,
    outputs: usize,
    activation: Activation,
    weights: PackedA,
    bias: Vec<f32>,
}

impl Dense {
    /// `weight` is Burn's `[in, out]` row-major, `bias` `[out]` (zeros when absent).
    pub fn new(weight: &[f32], [inputs, outputs]: [usize; 2], bias: Option<&[f32]>, activation: Activation) -> Result<Self, KernelError> {
        if inputs == 0 || outputs == 0 {
            return Err(KernelError::Zero { what: "dense weight shape", found: vec![inputs, outputs] });
        }
        if weight.len() != inputs * outputs {
            return Err(KernelError::Length { what: "dense weight", found: weight.len(), expected: inputs * outputs });
        }
        let bias = bias.map_or_else(|| vec![0.0; outputs], <[f32]>::to_vec);
        if bias.len() != outputs {
            return Err(KernelError::Length { what: "dense bias", found: bias.len(), expected: outputs });
        }
        // Packed as its transpose (`[out x in]`), read in place.
        let weights = PackedA::from_fn(outputs, inputs, |o, i| weight[i * outputs + o]);
        Ok(Self { inputs, outputs, activation, weights, bias })
    }

    pub fn inputs(&self) -> usize {
        self.inputs
    }

    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// `[batch x out]` for `[batch x in]` examples (`x`).
    ///
    /// # Panics
    /// When `x` is not whole rows of `inputs`.
    pub fn run(&self, x: &[f32]) -> Vec<f32> {
        assert!(x.len().is_multiple_of(self.inputs), "dense input is not rows of {}", self.inputs);
        let batch = x.len() / self.inputs;
        let mut rows = vec![0.0; batch * self.outputs];
        if batch < GEMV_BELOW {
            for (example, y) in x.chunks_exact(self.inputs).zip(rows.chunks_exact_mut(self.outputs)) {
                gemv(&self.weights, example, &self.bias, self.activation, y);
            }
            return rows;
        }
        let mut columns = vec![0.0; self.outputs * batch];
        let pack = |j0: usize, width: usize, panel: &mut [f32]| {
            panel.fill(0.0);
            for jj in 0..width {
                let example = &x[(j0 + jj) * self.inputs..][..self.inputs];
                for (p, &v) in example.iter().enumerate() {
                    panel[p * NR + jj] = v;
                }
            }
        };
        let epilogue = Epilogue { bias: &self.bias, activation: self.activation, residual: None };
        gemm(&self.weights, batch, pack, epilogue, &mut columns, batch);
        for (o, column) in columns.chunks_exact(batch).enumerate() {
            for (b, &v) in column.iter().enumerate() {
                rows[b * self.outputs + o] = v;
            }
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::activation::tests::{reference, ALL};
    use crate::cpu::test_values::{assert_close, values};

    #[test]
    fn matches_the_row_vector_product_for_every_batch_path() {
        for (inputs, outputs, batch) in [(5, 3, 19), (32, 17, 1), (7, 10, 3), (9, 1, 4), (40, 33, 2)] {
            let weight = values(inputs * outputs, 1);
            let bias = values(outputs, 2);
            let x = values(batch * inputs, 3);
            for act in ALL {
                let got = Dense::new(&weight, [inputs, outputs], Some(&bias), act).unwrap().run(&x);
                let mut want = Vec::new();
                for b in 0..batch {
                    for o in 0..outputs {
                        let s: f32 = (0..inputs).map(|i| x[b * inputs + i] * weight[i * outputs + o]).sum();
                        want.push(reference(act, s + bias[o]));
                    }
                }
                assert_close(&got, &want, 1e-4, &format!("{inputs}->{outputs} batch {batch} {act:?}"));
            }
        }
    }

    #[test]
    fn inconsistent_shapes_are_errors() {
        assert!(matches!(Dense::new(&[0.0; 5], [2, 3], None, Activation::None), Err(KernelError::Length { .. })));
        assert!(matches!(Dense::new(&[0.0; 6], [2, 3], Some(&[0.0; 2]), Activation::Relu), Err(KernelError::Length { .. })));
        assert!(matches!(Dense::new(&[], [0, 3], None, Activation::None), Err(KernelError::Zero { .. })));
    }
}
