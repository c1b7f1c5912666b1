//! ResNet-style benchmark network (ResNet-18's layout at half width: 7x7 stem, max pool, basic
//! blocks with 1x1 downsampling, global pooling, Gemm).
//! Imported by `scripts/add-model.sh` from `target/bench-models/resnet-bench.onnx`, which `scripts/bench-models.py`
//! writes with seeded random weights (published separately, not compiled in).
#[rustfmt::skip]
mod generated;

crate::imported_architecture! { ResNetBench: id = "resnet-bench", input = [3, 224, 224], outputs = 1000, rank = 4 }
