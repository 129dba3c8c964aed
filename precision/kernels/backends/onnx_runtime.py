"""The ONNX Softmax operator (opset 13) on ONNX Runtime's CPU execution provider."""
from __future__ import annotations

import functools

from precision.kernels.contract import EmulationModel

_ONNX_TYPES = {"float16": 10, "float32": 1, "float64": 11}  # onnx.TensorProto element types
NO_EXP = "not measurable: ONNX Runtime's Softmax computes its exp inside the operator"


@functools.cache
def _session(dtype: str):
    import onnx
    import onnxruntime
    from onnx import helper
    kind = _ONNX_TYPES[dtype]
    graph = helper.make_graph([helper.make_node("Softmax", ["x"], ["y"], axis=-1)], "softmax",
                              [helper.make_tensor_value_info("x", kind, [None, None])],
                              [helper.make_tensor_value_info("y", kind, [None, None])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by every onnxruntime since 1.10
    onnx.checker.check_model(model)
    return onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def softmax(x, d, device):
    return _session(d.name).run(None, {"x": x})[0]


def softmax_model(dtype: str) -> EmulationModel:
    wide = dtype == "float16"
    why = "the ONNX Softmax operator on the CPU provider" + (", float16 computed in float32" if wide else "")
    return EmulationModel("shifted", "float32" if wide else None, "pairwise", why)
