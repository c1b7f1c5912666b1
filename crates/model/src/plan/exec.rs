//! The plan's steps and how they run: buffers per tensor, allocated when first written and
//! freed after their last reader, every step looping over the batch's examples itself.

use std::collections::HashMap;

use burn::backend::ir::{OperationIr, TensorId};
use burn::tensor::TensorData;

use super::interpret::run_op;
use super::kernels::{self, Activation, Conv2d, Dense};
use super::place::Place;
use super::PlanError;

/// An elementwise function of one value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Elementwise {
    /// `x * scale + shift`.
    Affine {
        scale: f32,
        shift: f32,
    },
    Activation(Activation),
}

impl Elementwise {
    fn apply(self, x: f32) -> f32 {
        match self {
            Elementwise::Affine { scale, shift } => x * scale + shift,
            Elementwise::Activation(a) => a.apply(x),
        }
    }
}

/// A runtime tensor an operation on Burn reads or writes, with its batch-1 shape.
#[derive(Debug, Clone)]
pub(crate) struct Bound {
    pub id: TensorId,
    pub shape: Vec<usize>,
    pub place: Place,
}

/// An operation the kernels do not cover, run through Burn's flex backend one example at a time.
#[derive(Debug, Clone)]
pub(crate) struct Fallback {
    pub op: OperationIr,
    pub name: String,
    pub inputs: Vec<Bound>,
    pub constants: Vec<(TensorId, TensorData)>,
    pub outputs: Vec<Bound>,
}

/// One step of a plan.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    Conv {
        conv: Conv2d,
        input: Place,
        hw: [usize; 2],
        residual: Option<Place>,
        out: Place,
    },
    Dense {
        dense: Dense,
        input: Place,
        out: Place,
    },
    MaxPool {
        input: Place,
        channels: usize,
        hw: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        out: Place,
    },
    AvgPool {
        input: Place,
        channels: usize,
        hw: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        count_include_pad: bool,
        out: Place,
    },
    GlobalAverage {
        input: Place,
        channels: usize,
        plane: usize,
        out: Place,
    },
    Map {
        input: Place,
        out: Place,
        ops: Vec<Elementwise>,
    },
    ChannelAffine {
        input: Place,
        out: Place,
        plane: usize,
        scale: Vec<f32>,
        shift: Vec<f32>,
        activation: Activation,
    },
    Add {
        a: Place,
        b: Place,
        out: Place,
        activation: Activation,
    },
    Softmax {
        input: Place,
        out: Place,
        row: usize,
    },
    Copy {
        input: Place,
        out: Place,
    },
    Fallback(Box<Fallback>),
}

impl Step {
    /// Buffers this step reads.
    pub fn reads(&self) -> Vec<usize> {
        match self {
            Step::Conv { input, residual, .. } => [Some(input.slot), residual.map(|r| r.slot)].into_iter().flatten().collect(),
            Step::Dense { input, .. }
            | Step::MaxPool { input, .. }
            | Step::AvgPool { input, .. }
            | Step::GlobalAverage { input, .. }
            | Step::Map { input, .. }
            | Step::ChannelAffine { input, .. }
            | Step::Softmax { input, .. }
            | Step::Copy { input, .. } => vec![input.slot],
            Step::Add { a, b, .. } => vec![a.slot, b.slot],
            Step::Fallback(f) => f.inputs.iter().map(|b| b.place.slot).collect(),
        }
    }

    /// Buffers this step writes.
    pub fn writes(&self) -> Vec<usize> {
        match self {
            Step::Conv { out, .. }
            | Step::Dense { out, .. }
            | Step::MaxPool { out, .. }
            | Step::AvgPool { out, .. }
            | Step::GlobalAverage { out, .. }
            | Step::Map { out, .. }
            | Step::ChannelAffine { out, .. }
            | Step::Add { out, .. }
            | Step::Softmax { out, .. }
            | Step::Copy { out, .. } => vec![out.slot],
            Step::Fallback(f) => f.outputs.iter().map(|b| b.place.slot).collect(),
        }
    }

    /// Whether this step runs on burn-edge's kernels (not through Burn).
    pub fn on_kernels(&self) -> bool {
        !matches!(self, Step::Fallback(_))
    }

    /// Runs the step over `batch` examples.
    pub fn run(&self, buffers: &mut [Vec<f32>], sizes: &[usize], batch: usize) -> Result<(), PlanError> {
        match self {
            Step::Conv { conv, input, hw, residual, out } => with_output(buffers, sizes, batch, out.slot, |buffers, dst| {
                for n in 0..batch {
                    let residual = residual.map(|r| r.of(&buffers[r.slot], n));
                    kernels::run_conv(conv, input.of(&buffers[input.slot], n), *hw, out.of_mut(dst, n), residual);
                }
            }),
            Step::Dense { dense, input, out } => with_output(buffers, sizes, batch, out.slot, |buffers, dst| {
                let rows = if input.is_whole() {
                    dense.run(input.batch(&buffers[input.slot], batch))
                } else {
                    dense.run(&(0..batch).flat_map(|n| input.of(&buffers[input.slot], n).to_vec()).collect::<Vec<_>>())
                };
                for (n, row) in rows.chunks_exact(out.len).enumerate() {
                    out.of_mut(dst, n).copy_from_slice(row);
                }
            }),
            Step::MaxPool { input, channels, hw, kernel, stride, padding, out } => {
                with_output(buffers, sizes, batch, out.slot, |buffers, dst| {
                    for n in 0..batch {
                        let (pooled, _) =
                            kernels::max_pool2d(input.of(&buffers[input.slot], n), *channels, *hw, *kernel, *stride, *padding);
                        out.of_mut(dst, n).copy_from_slice(&pooled);
                    }
                })
            }
            Step::AvgPool { input, channels, hw, kernel, stride, padding, count_include_pad, out } => {
                with_output(buffers, sizes, batch, out.slot, |buffers, dst| {
                    for n in 0..batch {
                        let (pooled, _) = kernels::avg_pool2d(
                            input.of(&buffers[input.slot], n),
                            *channels,
                            *hw,
                            *kernel,
                            *stride,
                            *padding,
                            *count_include_pad,
                        );
                        out.of_mut(dst, n).copy_from_slice(&pooled);
                    }
                })
            }
            Step::GlobalAverage { input, channels, plane, out } => with_output(buffers, sizes, batch, out.slot, |buffers, dst| {
                for n in 0..batch {
                    out.of_mut(dst, n).copy_from_slice(&kernels::global_average(input.of(&buffers[input.slot], n), *channels, *plane));
                }
            }),
            Step::Map { input, out, ops } => map(buffers, sizes, batch, *input, *out, |values| {
                for v in values {
                    *v = ops.iter().fold(*v, |x, op| op.apply(x));
                }
            }),
            Step::ChannelAffine { input, out, plane, scale, shift, activation } => map(buffers, sizes, batch, *input, *out, |values| {
                kernels::channel_affine(values, *plane, scale, shift, *activation);
            }),
            Step::Softmax { input, out, row } => map(buffers, sizes, batch, *input, *out, |values| {
                for r in values.chunks_exact_mut(*row) {
                    kernels::softmax(r);
                }
            }),
            Step::Copy { input, out } => map(buffers, sizes, batch, *input, *out, |_| {}),
            Step::Add { a, b, out, activation } => with_output(buffers, sizes, batch, out.slot, |buffers, dst| {
                for n in 0..batch {
                    kernels::add(out.of_mut(dst, n), a.of(&buffers[a.slot], n), b.of(&buffers[b.slot], n), *activation);
                }
            }),
            Step::Fallback(f) => return fallback(f, buffers, sizes, batch),
        }
        Ok(())
    }
}

/// Gives `write` the other buffers and the (allocated) output buffer `slot`.
fn with_output(buffers: &mut [Vec<f32>], sizes: &[usize], batch: usize, slot: usize, write: impl FnOnce(&[Vec<f32>], &mut [f32])) {
    let mut dst = std::mem::take(&mut buffers[slot]);
    if dst.is_empty() {
        dst = vec![0.0; sizes[slot] * batch];
    }
    write(buffers, &mut dst);
    buffers[slot] = dst;
}

/// Copies `input` to `out` unless they are the same place, then applies `f` to each example of `out`.
fn map(buffers: &mut [Vec<f32>], sizes: &[usize], batch: usize, input: Place, out: Place, f: impl Fn(&mut [f32])) {
    if input != out {
        with_output(buffers, sizes, batch, out.slot, |buffers, dst| {
            for n in 0..batch {
                out.of_mut(dst, n).copy_from_slice(input.of(&buffers[input.slot], n));
            }
        });
    }
    let dst = &mut buffers[out.slot];
    for n in 0..batch {
        f(out.of_mut(dst, n));
    }
}

fn fallback(f: &Fallback, buffers: &mut [Vec<f32>], sizes: &[usize], batch: usize) -> Result<(), PlanError> {
    for n in 0..batch {
        let mut values: HashMap<TensorId, TensorData> = f.constants.iter().cloned().collect();
        for b in &f.inputs {
            values.insert(b.id, TensorData::new(b.place.of(&buffers[b.place.slot], n).to_vec(), b.shape.clone()));
        }
        let results = run_op(&f.op, &values)?;
        for (b, data) in f.outputs.iter().zip(results) {
            let got = data.as_slice::<f32>().map_err(|e| PlanError::Fallback { op: f.name.clone(), detail: format!("{e:?}") })?;
            if got.len() != b.place.len {
                return Err(PlanError::Fallback { op: f.name.clone(), detail: format!("{} values, expected {}", got.len(), b.place.len) });
            }
            if buffers[b.place.slot].is_empty() {
                buffers[b.place.slot] = vec![0.0; sizes[b.place.slot] * batch];
            }
            b.place.of_mut(&mut buffers[b.place.slot], n).copy_from_slice(got);
        }
    }
    Ok(())
}
