//! Fully connected layer (`y = x·W + b`, Burn's `Linear` layout) on the packed GEMM: the weights
//! are packed once as `[out x in]`, a batch of examples is the product's columns.

use super::gemm::{gemm, Epilogue, PackedA, NR};

/// A linear layer with its weights packed for [`gemm`].
#[derive(Debug, Clone)]
pub struct Dense {
    inputs: usize,
    outputs: usize,
    relu: bool,
    weights: PackedA,
    bias: Vec<f32>,
}

impl Dense {
    /// `weight` is Burn's `[in, out]` row-major, `bias` `[out]` (zeros when absent).
    pub fn new(weight: &[f32], [inputs, outputs]: [usize; 2], bias: Option<&[f32]>, relu: bool) -> Self {
        assert_eq!(weight.len(), inputs * outputs, "dense weight has {} values for {inputs}x{outputs}", weight.len());
        let bias = bias.map_or_else(|| vec![0.0; outputs], <[f32]>::to_vec);
        assert_eq!(bias.len(), outputs, "dense bias has {} values for {outputs} outputs", bias.len());
        let mut transposed = vec![0.0; inputs * outputs];
        for (i, row) in weight.chunks_exact(outputs).enumerate() {
            for (o, &v) in row.iter().enumerate() {
                transposed[o * inputs + i] = v;
            }
        }
        Self { inputs, outputs, relu, weights: PackedA::new(&transposed, outputs, inputs), bias }
    }

    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// `[batch x out]` for `[batch x in]` examples (`x`).
    pub fn run(&self, x: &[f32]) -> Vec<f32> {
        assert!(x.len().is_multiple_of(self.inputs), "dense input is not rows of {}", self.inputs);
        let batch = x.len() / self.inputs;
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
        gemm(&self.weights, batch, pack, Epilogue { bias: &self.bias, relu: self.relu }, &mut columns, batch);
        let mut rows = vec![0.0; batch * self.outputs];
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

    #[test]
    fn matches_the_row_vector_product_for_a_batch() {
        let (inputs, outputs, batch) = (5, 3, 19);
        let weight: Vec<f32> = (0..inputs * outputs).map(|i| (i as f32 * 0.37).sin()).collect();
        let bias = [0.5, -4.0, 0.25];
        let x: Vec<f32> = (0..batch * inputs).map(|i| (i as f32 * 0.11).cos()).collect();
        for relu in [false, true] {
            let got = Dense::new(&weight, [inputs, outputs], Some(&bias), relu).run(&x);
            for b in 0..batch {
                for o in 0..outputs {
                    let mut want = bias[o];
                    for i in 0..inputs {
                        want += x[b * inputs + i] * weight[i * outputs + o];
                    }
                    let want = if relu { want.max(0.0) } else { want };
                    assert!((got[b * outputs + o] - want).abs() < 1e-5);
                }
            }
        }
    }
}
