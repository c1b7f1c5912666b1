#!/usr/bin/env python3
"""Writes burn-edge's benchmark models as ONNX files with seeded random weights, and ONNX
Runtime's output on a seeded input for each (the reference the native, wasm and WebGPU tests
compare against at 1e-4).

    python3 scripts/bench-models.py [--out target/bench-models]   (needs: pip install onnx numpy onnxruntime)

Nobody tuned burn-edge for these networks: they are the shapes users bring (MobileNetV2-style
depthwise separable convolutions with ReLU6 and residual adds, a ResNet-style network, an MLP
on tabular input), built from plain ONNX operators as exporters write them: Conv,
BatchNormalization (random statistics, so batch-norm folding is tested for real), Clip, Relu,
Add, MaxPool, GlobalAveragePool, Flatten, Gemm, Softmax. The batch dimension is symbolic (`N`).

Per model it writes `<name>.onnx` and `<name>.reference.json`:
    {"model", "input_shape": [2, ...], "input": [...], "output_shape": [2, classes], "output": [...],
     "params", "onnx_bytes", "flops", "onnxruntime"}
(flops = 2 x multiply-accumulates of one example's convolutions and Gemms.) The files are the
same bytes on every run: the seeds are fixed and ONNX serialization is deterministic.
"""

import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 16  # the opset of SqueezeNet's ONNX file, which burn-onnx already imports
IR_VERSION = 8  # the IR version of opset 16, which every ONNX Runtime reads
SEED = 12  # issue #12


class Builder:
    """Accumulates nodes and initializers of one graph, with seeded weights and a FLOP count."""

    def __init__(self, name, seed):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.nodes = []
        self.initializers = []
        self.params = 0
        self.macs = 0
        self.count = {}

    def unique(self, kind):
        n = self.count.get(kind, 0)
        self.count[kind] = n + 1
        return f"{kind}_{n}"

    def constant(self, name, array):
        array = np.asarray(array, dtype=np.float32)
        self.initializers.append(numpy_helper.from_array(array, name))
        self.params += array.size
        return name

    def node(self, op, inputs, name=None, **attrs):
        name = name or self.unique(op.lower())
        out = f"{name}_out"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def conv(self, x, cin, cout, k, side_out, stride=1, groups=1, bias=False, gain=2.0):
        """A convolution with He-scaled weights; `side_out` is the output side (for FLOPs)."""
        name = self.unique("conv")
        fan_in = cin // groups * k * k
        w = self.rng.normal(0.0, np.sqrt(gain / fan_in), (cout, cin // groups, k, k))
        inputs = [x, self.constant(f"{name}.weight", w)]
        if bias:
            inputs.append(self.constant(f"{name}.bias", self.rng.normal(0.0, 0.1, cout)))
        self.macs += cout * (cin // groups) * k * k * side_out * side_out
        pad = (k - 1) // 2
        return self.node("Conv", inputs, name=name, kernel_shape=[k, k], strides=[stride, stride],
                         pads=[pad, pad, pad, pad], group=groups, dilations=[1, 1])

    def batch_norm(self, x, channels):
        """Batch norm with random (not identity) statistics: mean, variance > 0, gamma, beta."""
        name = self.unique("bn")
        inputs = [x,
                  self.constant(f"{name}.gamma", self.rng.uniform(0.5, 1.5, channels)),
                  self.constant(f"{name}.beta", self.rng.normal(0.0, 0.1, channels)),
                  self.constant(f"{name}.mean", self.rng.normal(0.0, 0.1, channels)),
                  self.constant(f"{name}.var", self.rng.uniform(0.5, 1.5, channels))]
        return self.node("BatchNormalization", inputs, name=name, epsilon=1e-5, momentum=0.9)

    def relu6(self, x):
        # Clip's bounds are inputs since opset 11; exporters write them as scalar initializers.
        name = self.unique("relu6")
        lo = self.constant(f"{name}.min", np.array(0.0))
        hi = self.constant(f"{name}.max", np.array(6.0))
        self.params -= 2  # bounds, not weights
        return self.node("Clip", [x, lo, hi], name=name)

    def gemm(self, x, inputs, outputs, gain=2.0):
        name = self.unique("gemm")
        w = self.rng.normal(0.0, np.sqrt(gain / inputs), (outputs, inputs))
        b = self.rng.normal(0.0, 0.1, outputs)
        self.macs += inputs * outputs
        # transB=1: weight stored [out, in], as PyTorch's exporter writes Linear layers.
        return self.node("Gemm", [x, self.constant(f"{name}.weight", w), self.constant(f"{name}.bias", b)],
                         name=name, alpha=1.0, beta=1.0, transB=1)

    def model(self, x_name, x_shape, y, classes):
        graph = helper.make_graph(
            self.nodes, self.name,
            [helper.make_tensor_value_info(x_name, TensorProto.FLOAT, ["N", *x_shape])],
            [helper.make_tensor_value_info(y, TensorProto.FLOAT, ["N", classes])],
            self.initializers)
        m = helper.make_model(graph, producer_name="burn-edge scripts/bench-models.py",
                              opset_imports=[helper.make_opsetid("", OPSET)])
        m.ir_version = IR_VERSION
        onnx.checker.check_model(m, full_check=True)
        return m


def mobilenet():
    """MobileNetV2 (width 1.0) at 224x224, shortened to 9 inverted-residual blocks."""
    b = Builder("mobilenet_bench", SEED)
    side = 112
    x = b.relu6(b.batch_norm(b.conv("input", 3, 32, 3, side, stride=2), 32))
    cin = 32
    # (expansion t, output channels c, stride s), as MobileNetV2's table, stages cut short.
    for t, c, s in [(1, 16, 1), (6, 24, 2), (6, 24, 1), (6, 32, 2), (6, 32, 1),
                    (6, 64, 2), (6, 64, 1), (6, 96, 1), (6, 160, 2)]:
        side //= s
        hidden = cin * t
        h = x
        if t != 1:
            h = b.relu6(b.batch_norm(b.conv(h, cin, hidden, 1, side * s), hidden))
        h = b.relu6(b.batch_norm(b.conv(h, hidden, hidden, 3, side, stride=s, groups=hidden), hidden))
        # Linear bottleneck: no activation; small gain keeps the residual sum's scale steady.
        h = b.batch_norm(b.conv(h, hidden, c, 1, side, gain=1.0), c)
        x = b.node("Add", [x, h]) if s == 1 and cin == c else h
        cin = c
    x = b.relu6(b.batch_norm(b.conv(x, cin, 1280, 1, side), 1280))
    x = b.node("Flatten", [b.node("GlobalAveragePool", [x])], axis=1)
    return b, b.model("input", [3, 224, 224], b.gemm(x, 1280, 1000, gain=1.0), 1000), [3, 224, 224]


def resnet():
    """ResNet-18's layout (2 basic blocks per stage) at half width (32..256 channels), 224x224."""
    b = Builder("resnet_bench", SEED + 1)
    x = b.node("Relu", [b.batch_norm(b.conv("input", 3, 32, 7, 112, stride=2), 32)])
    x = b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    side, cin = 56, 32
    for stage, c in enumerate([32, 64, 128, 256]):
        for block in range(2):
            s = 2 if stage > 0 and block == 0 else 1
            side //= s
            h = b.node("Relu", [b.batch_norm(b.conv(x, cin, c, 3, side, stride=s), c)])
            h = b.batch_norm(b.conv(h, c, c, 3, side, gain=1.0), c)
            shortcut = x
            if s != 1 or cin != c:
                shortcut = b.batch_norm(b.conv(x, cin, c, 1, side, stride=s, gain=1.0), c)
            x = b.node("Relu", [b.node("Add", [shortcut, h])])
            cin = c
    x = b.node("Flatten", [b.node("GlobalAveragePool", [x])], axis=1)
    # Low gain: the residual sums grow stage by stage; logits of order 1 keep 1e-4 meaningful.
    return b, b.model("input", [3, 224, 224], b.gemm(x, 256, 1000, gain=0.05), 1000), [3, 224, 224]


def mlp():
    """Tabular: 32 features -> 256 -> 128 -> 10 classes, Softmax probabilities."""
    b = Builder("mlp_bench", SEED + 2)
    x = b.node("Relu", [b.gemm("input", 32, 256)])
    x = b.node("Relu", [b.gemm(x, 256, 128)])
    y = b.node("Softmax", [b.gemm(x, 128, 10, gain=1.0)], axis=1)
    return b, b.model("input", [32], y, 10), [32]


def reference(model_bytes, shape, seed):
    """A seeded batch-2 input and ONNX Runtime's (CPU EP, 1 thread, no graph rewrites) output."""
    import onnxruntime as ort

    x = np.random.default_rng(seed).uniform(-1.0, 1.0, (2, *shape)).astype(np.float32)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    # No fusions: the reference is the graph as written, evaluated op by op.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"input": x})
    if not np.all(np.isfinite(y)):
        sys.exit("ONNX Runtime's output is not finite: the weights are badly scaled")
    return x, y.astype(np.float32), ort.__version__


def floats(array):
    # float32 -> shortest decimal that reads back as the same float32 (9 significant digits).
    return "[" + ",".join(f"{v:.9g}" for v in array.reshape(-1).tolist()) + "]"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="target/bench-models")
    parser.add_argument("--no-reference", action="store_true", help="skip ONNX Runtime")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for i, (name, build) in enumerate([("mobilenet-bench", mobilenet), ("resnet-bench", resnet), ("mlp-bench", mlp)]):
        builder, model, shape = build()
        data = model.SerializeToString()
        with open(os.path.join(args.out, f"{name}.onnx"), "wb") as f:
            f.write(data)
        summary = {"params": builder.params, "onnx_bytes": len(data), "flops": 2 * builder.macs}
        line = f"{name}: {builder.params} params, {len(data)} bytes, {2 * builder.macs / 1e6:.2f} MFLOPs"
        if not args.no_reference:
            x, y, version = reference(data, shape, SEED * 100 + i)
            meta = {"model": name, **summary, "onnxruntime": version,
                    "input_shape": list(x.shape), "output_shape": list(y.shape)}
            body = json.dumps(meta)[:-1] + f', "input": {floats(x)}, "output": {floats(y)}}}\n'
            with open(os.path.join(args.out, f"{name}.reference.json"), "w") as f:
                f.write(body)
            line += f", output |max| {np.abs(y).max():.3g}, std {y.std():.3g}"
        print(line)


if __name__ == "__main__":
    main()
