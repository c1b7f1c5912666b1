//! Tabular benchmark MLP (32 features -> 256 -> 128 -> 10 classes, softmax).
//! Imported by `scripts/add-model.sh` from `target/bench-models/mlp-bench.onnx`, which `scripts/bench-models.py`
//! writes with seeded random weights (published separately, not compiled in).
#[rustfmt::skip]
mod generated;

crate::imported_architecture! { MlpBench: id = "mlp-bench", input = [32], outputs = 10, rank = 2 }
