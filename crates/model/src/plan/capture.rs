//! Recording a network's forward pass for one example on Burn's capture device.

use burn::backend::capture::{CaptureBackend, CapturedGraph, TensorId};
use burn::module::Module;
use burn::prelude::*;

use super::PlanError;

fn id<const D: usize>(tensor: &Tensor<D>) -> Result<TensorId, PlanError> {
    tensor
        .clone()
        .try_into_primitive::<CaptureBackend>()
        .map(|t| t.id())
        .map_err(|e| PlanError::Internal(format!("a tensor of the capture is not on the capture device: {e:?}")))
}

/// The graph of `forward(module, x)` for one example of `shape` (batch 1 first), the module's
/// parameters recorded as the graph's constants. The module is consumed: each parameter moves
/// onto the capture device in turn, so the weights are never held twice.
pub fn capture<M: Module, const D: usize, const O: usize>(
    module: M,
    shape: [usize; D],
    forward: impl FnOnce(&M, Tensor<D>) -> Tensor<O>,
) -> Result<CapturedGraph, PlanError> {
    let device = Device::capture();
    let mut ids = Err(PlanError::Internal("the capture did not run".into()));
    let captured = device.capture_scope(|scope| {
        // The inference view of the module (batch norm on its running statistics); the
        // original goes first so that each tensor has one owner when it moves.
        let valid = module.valid();
        drop(module);
        let module = valid.to_device(&device);
        let input = Tensor::<D>::zeros(shape, &Device::flex()).to_device(&device);
        let output = forward(&module, input.clone());
        ids = id(&input).and_then(|i| Ok((i, id(&output)?)));
        match &ids {
            Ok((i, o)) => scope.complete([*i], [*o]),
            Err(_) => scope.complete([], []),
        }
    });
    ids?;
    captured.map_err(|e| PlanError::Internal(format!("capturing the forward pass failed: {e}")))
}
