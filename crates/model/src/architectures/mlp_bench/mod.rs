//! Tabular benchmark MLP (32 features -> 256 -> 128 -> 10 classes, softmax), imported from
//! `scripts/bench-models.py`'s `target/bench-models/mlp-bench.onnx` (seeded random weights, published
//! separately) by `scripts/add-model.sh`.
#[rustfmt::skip]
mod generated;

crate::imported_architecture! { MlpBench: id = "mlp-bench", input = [32], outputs = 10, rank = 2 }
