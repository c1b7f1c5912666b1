//! MobileNetV2-style benchmark network (depthwise separable convolutions, batch norm, ReLU6,
//! residual adds, global pooling, Gemm), imported from
//! `scripts/bench-models.py`'s `target/bench-models/mobilenet-bench.onnx` (seeded random weights, published
//! separately) by `scripts/add-model.sh`.
#[rustfmt::skip]
mod generated;

crate::imported_architecture! { MobileNetBench: id = "mobilenet-bench", input = [3, 224, 224], outputs = 1000, rank = 4 }
