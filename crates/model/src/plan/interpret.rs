//! One burn-ir operation run on Burn's flex CPU backend: how the plan folds constants at compile
//! time and runs, at inference, the operations burn-edge's kernels do not cover.

use std::collections::HashMap;
use std::task::{Context, Poll, Waker};

use burn::backend::ir::{OperationIr, TensorId, TensorIr, TensorStatus};
use burn::backend::{Flex, FlexDevice};
use burn::tensor::TensorData;
use burn_router::TensorInterpreter;

use super::PlanError;

/// Runs `op` with `inputs` (every tensor the operation reads, by id) and returns its outputs.
pub(crate) fn run_op(op: &OperationIr, inputs: &HashMap<TensorId, TensorData>) -> Result<Vec<TensorData>, PlanError> {
    let mut interpreter = TensorInterpreter::<Flex>::new(FlexDevice);
    for tensor in op.inputs() {
        let data =
            inputs.get(&tensor.id).ok_or_else(|| PlanError::Internal(format!("no value for tensor {:?} of {}", tensor.id, op_name(op))))?;
        interpreter.register_tensor_data_id(tensor.id, data.clone());
    }
    // Outputs are read back once, which the interpreter calls a read-write use.
    let outputs: Vec<TensorIr> = op.outputs().cloned().map(|t| TensorIr { status: TensorStatus::ReadWrite, ..t }).collect();
    // Flex computes eagerly and a panic inside an operation must not take the session down.
    let op = op.clone();
    let name = op_name(&op);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        interpreter.register_op(op);
        outputs.into_iter().map(|out| ready(interpreter.read_tensor_async(out))).collect::<Result<Vec<_>, _>>()
    }))
    .map_err(|_| PlanError::Fallback { op: name.clone(), detail: "Burn's flex backend panicked".into() })?
    .map_err(|detail| PlanError::Fallback { op: name, detail })
}

/// The result of a future that is ready at once (flex reads back synchronously).
fn ready<T, E: std::fmt::Debug>(future: impl std::future::Future<Output = Result<T, E>>) -> Result<T, String> {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result.map_err(|e| format!("{e:?}")),
        Poll::Pending => Err("the CPU backend did not read back synchronously".into()),
    }
}

/// A short name of an operation for messages (`Module::Conv2d`, `Float::Tanh`).
pub(crate) fn op_name(op: &OperationIr) -> String {
    // `Outer(F32, Inner(PayloadIr { ... }))` -> `Outer::Inner`, without printing tensors.
    let full = format!("{op:?}");
    let head = full.split('{').next().unwrap_or(&full);
    let parts: Vec<&str> = head
        .split('(')
        .map(|part| part.rsplit(", ").next().unwrap_or(part).trim())
        .filter(|part| !part.is_empty() && !part.ends_with("Ir"))
        .collect();
    parts.join("::")
}
