//! Plans against Burn's own forward pass on random weights.

use burn::module::{Module, Param, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation;

use super::{capture, Plan};
use crate::cpu::test_values::values;

fn tensor<const D: usize>(shape: [usize; D], seed: u32, device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values(shape.iter().product(), seed), shape), device)
}

/// The plan's output and Burn's for the same batch, compared value by value.
fn assert_plan_matches<M: Module, const D: usize, const O: usize>(
    module: &M,
    shape: [usize; D],
    forward: impl Fn(&M, Tensor<D>) -> Tensor<O> + Copy,
    batch: usize,
) -> Plan {
    let device = Device::flex();
    let plan = Plan::compile(capture(module.clone(), shape, forward).unwrap()).unwrap();
    let mut batched = shape;
    batched[0] = batch;
    let input = tensor(batched, 42, &device);
    let want = forward(module, input.clone()).into_data().try_to_vec::<f32>().unwrap();
    let got = plan.run(&input.into_data().try_to_vec::<f32>().unwrap()).unwrap();
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let diff = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(diff <= 1e-5 * scale, "max |diff| {diff} (largest value {scale}); plan {:?}", plan.summary());
    plan
}

fn batch_norm(channels: usize, seed: u32, device: &Device) -> BatchNorm {
    let mut bn = BatchNormConfig::new(channels).init(device);
    bn.gamma = Param::from_tensor(tensor([channels], seed, device).add_scalar(1.5));
    bn.beta = Param::from_tensor(tensor([channels], seed + 1, device));
    bn.running_mean = RunningState::new(tensor([channels], seed + 2, device));
    bn.running_var = RunningState::new(tensor([channels], seed + 3, device).abs().add_scalar(0.5));
    bn
}

#[derive(Module, Debug)]
struct Block {
    stem: Conv2d,
    stem_bn: BatchNorm,
    expand: Conv2d,
    expand_bn: BatchNorm,
    depthwise: Conv2d,
    depthwise_bn: BatchNorm,
    project: Conv2d,
    project_bn: BatchNorm,
    pool: MaxPool2d,
    avg: AvgPool2d,
    head_pool: AdaptiveAvgPool2d,
    fc: Linear,
}

impl Block {
    fn new(device: &Device) -> Self {
        let conv = |cin, cout, k, stride, groups| {
            Conv2dConfig::new([cin, cout], [k, k])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
                .with_groups(groups)
                .init(device)
        };
        Self {
            stem: conv(3, 8, 3, 2, 1),
            stem_bn: batch_norm(8, 10, device),
            expand: conv(8, 24, 1, 1, 1),
            expand_bn: batch_norm(24, 20, device),
            depthwise: conv(24, 24, 3, 1, 24),
            depthwise_bn: batch_norm(24, 30, device),
            project: conv(24, 8, 1, 1, 1),
            project_bn: batch_norm(8, 40, device),
            pool: MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(),
            avg: AvgPool2dConfig::new([2, 2]).with_strides([1, 1]).init(),
            head_pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(8, 5).init(device),
        }
    }

    /// MobileNetV2's inverted residual between a stem and a classifier head, plus a tanh that
    /// no kernel covers.
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.stem_bn.forward(self.stem.forward(x)).clamp(0.0, 6.0);
        let y = self.expand_bn.forward(self.expand.forward(x.clone())).clamp(0.0, 6.0);
        let y = self.depthwise_bn.forward(self.depthwise.forward(y)).clamp(0.0, 6.0);
        let y = self.project_bn.forward(self.project.forward(y));
        let x = activation::relu(x + y);
        let x = self.avg.forward(self.pool.forward(x)).tanh();
        let [batch, channels, _, _] = x.dims();
        let x = self.head_pool.forward(x).reshape([batch, channels]);
        activation::softmax(self.fc.forward(x), 1)
    }
}

#[test]
fn an_inverted_residual_block_matches_burn() {
    let block = Block::new(&Device::flex());
    let plan = assert_plan_matches(&block, [1, 3, 17, 19], |m, x| m.forward(x), 3);
    let summary = plan.summary();
    assert!(summary.burn_ops.iter().any(|op| op.contains("Tanh")), "{summary:?}");
    assert!(summary.fused >= 4, "batch norms and activations are fused: {summary:?}");
}

#[test]
fn a_plain_mlp_matches_burn() {
    let device = Device::flex();
    let layers = (LinearConfig::new(7, 16).init(&device), LinearConfig::new(16, 3).init(&device));
    let plan = assert_plan_matches(&layers, [1, 7], |(a, b), x| activation::softmax(b.forward(activation::relu(a.forward(x))), 1), 5);
    assert_eq!(plan.summary().burn_ops, Vec::<String>::new());
    assert_eq!(plan.summary().kernel_steps, 3, "{:?}", plan.summary());
}

/// Every architecture of the registry (the imported benchmark networks among them), on random
/// weights: the plan against the network's own forward, all on burn-edge's kernels.
#[test]
fn every_architecture_compiles_to_a_plan_that_matches_burn() {
    let device = Device::flex();
    for architecture in crate::architectures() {
        let network = architecture.init(&device);
        let input = values(2 * architecture.input_len(), 7).iter().map(|v| (v + 1.0) * 0.5).collect::<Vec<_>>();
        let want = network.forward(&input, &device).unwrap().into_data().try_to_vec::<f32>().unwrap();
        let plan = Plan::compile(network.capture().unwrap()).unwrap();
        let got = plan.run(&input).unwrap();
        assert_eq!(got.len(), want.len(), "{}", architecture.id());
        let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let diff = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(diff <= 1e-5 * scale, "{}: max |diff| {diff} (largest {scale})", architecture.id());
        assert_eq!(plan.summary().burn_ops, Vec::<String>::new(), "{} runs wholly on the kernels", architecture.id());
    }
}

#[test]
fn bad_batches_are_refused() {
    let device = Device::flex();
    let layer = LinearConfig::new(4, 2).init(&device);
    let plan = Plan::compile(capture(layer.clone(), [1, 4], |l, x| l.forward(x)).unwrap()).unwrap();
    assert_eq!(plan.run(&[1.0; 6]).unwrap_err().to_string(), "input of 6 values is not whole examples of 4");
    assert!(plan.run(&[]).is_err());
    assert_eq!(plan.run(&[1.0; 8]).unwrap().len(), 4);
}
