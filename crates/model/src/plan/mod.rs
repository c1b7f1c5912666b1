//! Any network on burn-edge's CPU kernels, with no code per network: the network's forward
//! pass is captured once as a graph of Burn operations (`Device::capture()`, batch of one),
//! compiled into steps on [`crate::cpu`]'s kernels with the weights packed once, and run for
//! any batch size. Operations the kernels do not cover run through Burn's flex backend inside
//! the same plan, so every network that Burn runs gets a plan.

mod capture;
mod compile;
mod exec;
mod interpret;
mod kernels;
mod place;
#[cfg(test)]
mod tests;

use burn::backend::capture::CapturedGraph;

pub use capture::capture;
use exec::Step;
use place::Place;

/// Why a captured graph cannot become a plan, or a plan step failed.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("the captured graph has {inputs} inputs and {outputs} outputs; a plan needs one of each")]
    Boundary { inputs: usize, outputs: usize },
    #[error("{op} gives a tensor of shape {shape:?} at batch 1: the plan needs the batch in the first dimension of every tensor")]
    NotBatched { op: String, shape: Vec<usize> },
    #[error("{op} gives a {dtype} tensor at run time; the plan runs f32 activations only")]
    NotF32 { op: String, dtype: String },
    #[error("running {op} on Burn's CPU backend failed: {detail}")]
    Fallback { op: String, detail: String },
    #[error("input of {len} values is not whole examples of {per}")]
    Input { len: usize, per: usize },
    #[error("a layer of the network does not fit the CPU kernels: {0}")]
    Kernel(#[from] crate::cpu::KernelError),
    #[error("plan compiler: {0}")]
    Internal(String),
}

/// What a plan runs where (for `info()` and the benchmarks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSummary {
    /// Steps on burn-edge's kernels.
    pub kernel_steps: usize,
    /// Operations fused into the kernel step before them (batch norm, bias, activations, adds).
    pub fused: usize,
    /// Operations run through Burn, by name (`Float::Tanh`), in order.
    pub burn_ops: Vec<String>,
    /// f32 values held by the plan's kernels and constants.
    pub weight_values: usize,
    /// f32 values of the largest activation buffer for one example.
    pub largest_activation: usize,
}

/// A compiled network.
#[derive(Debug)]
pub struct Plan {
    steps: Vec<Step>,
    sizes: Vec<usize>,
    input: Place,
    output: Place,
    free_after: Vec<Vec<usize>>,
    summary: PlanSummary,
}

impl Plan {
    /// Compiles a forward pass captured at batch 1 (one input, one output).
    pub fn compile(captured: CapturedGraph) -> Result<Self, PlanError> {
        let lowered = compile::compile(captured)?;
        let summary = PlanSummary {
            kernel_steps: lowered.steps.iter().filter(|s| s.on_kernels()).count(),
            fused: lowered.fused,
            burn_ops: lowered.steps.iter().filter_map(|s| if let Step::Fallback(f) = s { Some(f.name.clone()) } else { None }).collect(),
            weight_values: lowered.weight_values,
            largest_activation: lowered.sizes.iter().copied().max().unwrap_or(0),
        };
        Ok(Self {
            steps: lowered.steps,
            sizes: lowered.sizes,
            input: lowered.input,
            output: lowered.output,
            free_after: lowered.free_after,
            summary,
        })
    }

    /// Values per example in.
    pub fn input_len(&self) -> usize {
        self.input.len
    }

    /// Values per example out.
    pub fn output_len(&self) -> usize {
        self.output.len
    }

    pub fn summary(&self) -> &PlanSummary {
        &self.summary
    }

    /// Outputs (`batch * output_len()`) for flat whole examples.
    pub fn run(&self, input: &[f32]) -> Result<Vec<f32>, PlanError> {
        self.run_owned(input.to_vec())
    }

    /// [`Plan::run`] on an input it takes: the input becomes the first buffer (no copy) and is
    /// freed after its last reader, so a run holds one copy of it at most.
    pub fn run_owned(&self, input: Vec<f32>) -> Result<Vec<f32>, PlanError> {
        let per = self.input.len;
        if input.is_empty() || !input.len().is_multiple_of(per) {
            return Err(PlanError::Input { len: input.len(), per });
        }
        let batch = input.len() / per;
        let mut buffers: Vec<Vec<f32>> = vec![Vec::new(); self.sizes.len()];
        buffers[self.input.slot] = input;
        for (step, free) in self.steps.iter().zip(&self.free_after) {
            step.run(&mut buffers, &self.sizes, batch)?;
            for &slot in free {
                buffers[slot] = Vec::new();
            }
        }
        let mut out = std::mem::take(&mut buffers[self.output.slot]);
        out.truncate(batch * self.output.len);
        Ok(out)
    }
}
