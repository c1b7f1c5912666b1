//! MobileNetV2-style benchmark network (depthwise separable convolutions, batch norm, ReLU6,
//! residual adds, global pooling, Gemm).
//! Imported by `scripts/add-model.sh` from `target/bench-models/mobilenet-bench.onnx`, which `scripts/bench-models.py`
//! writes with seeded random weights (published separately, not compiled in).
#[rustfmt::skip]
mod generated;

crate::imported_architecture! { MobileNetBench: id = "mobilenet-bench", input = [3, 224, 224], outputs = 1000, rank = 4 }
