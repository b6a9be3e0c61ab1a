"""ONNX graphs of an exported MLP, built node by node: input `obs` (raw float32 [batch, obs_dim]),
output `actions` — normalization, clipping and action mapping are inside the graph."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from onboard.extract import MLP

OPSET = 17
# name -> the nodes computing it: (node, input, layer index) -> output
ACTIVATIONS = {
    "identity": lambda node, x, i: x,
    "tanh": lambda node, x, i: node("Tanh", [x], f"act{i}"),
    "relu": lambda node, x, i: node("Relu", [x], f"act{i}"),
    "elu": lambda node, x, i: node("Elu", [x], f"act{i}", alpha=1.0),
    "leaky_relu": lambda node, x, i: node("LeakyRelu", [x], f"act{i}", alpha=0.01),
    "silu": lambda node, x, i: node("Mul", [x, node("Sigmoid", [x], f"sig{i}")], f"act{i}"),
}


def build(mlp: MLP, dtype: type = np.float32) -> onnx.ModelProto:
    """The graph in float32 or float16 (fp16 computes in half precision; input and output stay float32)."""
    half = dtype == np.float16
    elem = TensorProto.FLOAT16 if half else TensorProto.FLOAT
    nodes, inits = [], []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(op: str, inputs: list[str], name: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    x = node("Cast", ["obs"], "obs_half", to=elem) if half else "obs"
    inv_std = mlp.inv_std
    clip = min(mlp.obs_clip, 6.0e4) if half else mlp.obs_clip
    x = node("Sub", [x, const("obs_mean", mlp.obs_mean)], "obs_centered")
    x = node("Mul", [x, const("obs_inv_std", inv_std)], "obs_scaled")
    x = node("Clip", [x, const("obs_clip_low", -clip), const("obs_clip_high", clip)], "obs_normalized")
    for i, (w, b, act) in enumerate(zip(mlp.weights, mlp.biases, mlp.activations)):
        x = node("MatMul", [x, const(f"w{i}", w)], f"matmul{i}")
        x = node("Add", [x, const(f"b{i}", b)], f"linear{i}")
        if act not in ACTIVATIONS:
            raise ValueError(f"export: activation '{act}' has no ONNX form; accepted: {', '.join(ACTIVATIONS)}")
        x = ACTIVATIONS[act](node, x, i)
    if mlp.output == "tanh":
        x = node("Tanh", [x], "squashed")
        x = node("Add", [x, const("one", 1.0)], "shifted")
        x = node("Mul", [x, const("half_range", 0.5 * (mlp.action_high - mlp.action_low))], "scaled")
        x = node("Add", [x, const("action_low", mlp.action_low)], "unscaled")
    else:
        x = node("Max", [x, const("action_low", mlp.action_low)], "clipped_low")
        x = node("Min", [x, const("action_high", mlp.action_high)], "clipped")
    nodes.append(helper.make_node("Cast", [x], ["actions"], name="actions", to=TensorProto.FLOAT) if half
                 else helper.make_node("Identity", [x], ["actions"], name="actions"))  # fmt: skip
    graph = helper.make_graph(
        nodes,
        "locoforge_policy",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["batch", mlp.obs_dim])],
        [helper.make_tensor_value_info("actions", TensorProto.FLOAT, ["batch", mlp.action_dim])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="locoforge")
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model
