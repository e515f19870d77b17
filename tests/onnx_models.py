"""Tiny ONNX detectors with known outputs, built with the onnx helper API.

Each model ignores its pixels (output = constant + 0 * mean(input)) so a test knows
exactly which boxes come out, in MODEL-INPUT pixels, and can check the mapping back
to original-image pixels, the decoders and NMS on a real onnxruntime session.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def constant_model(
    path: Path,
    output: np.ndarray,
    *,
    input_shape=(1, 3, 640, 640),
    input_type=TensorProto.FLOAT,
    names: dict[int, str] | None = None,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write a model whose single output is always `output` (float32)."""
    out = np.asarray(output, dtype=np.float32)
    nodes = []
    src = "images"
    if input_type != TensorProto.FLOAT:  # float16, double: computed in float32 inside
        nodes.append(helper.make_node("Cast", ["images"], ["images_f"], to=TensorProto.FLOAT))
        src = "images_f"
    nodes += [
        helper.make_node("ReduceMean", [src], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["value", "nothing"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "constant_detector",
        [helper.make_tensor_value_info("images", input_type, list(input_shape))],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(out.shape))],
        initializer=[
            numpy_helper.from_array(out, "value"),
            numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = dict(metadata or {})
    if names is not None:
        meta["names"] = repr(names)
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def v8_raw_output(rows: list[tuple[float, float, float, float, int, float]], num_classes: int, n: int = 8400):
    """[1, 4+C, N] with the given (cx, cy, w, h, class, score) rows first, zeros after."""
    out = np.zeros((1, 4 + num_classes, n), dtype=np.float32)
    for i, (cx, cy, w, h, cls, score) in enumerate(rows):
        out[0, :4, i] = (cx, cy, w, h)
        out[0, 4 + cls, i] = score
    return out


def v5_raw_output(rows, num_classes: int, n: int = 25200):
    """[1, N, 5+C]; rows are (cx, cy, w, h, objectness, class, class_score)."""
    out = np.zeros((1, n, 5 + num_classes), dtype=np.float32)
    for i, (cx, cy, w, h, obj, cls, score) in enumerate(rows):
        out[0, i, :5] = (cx, cy, w, h, obj)
        out[0, i, 5 + cls] = score
    return out


def slow_constant_model(path: Path, output: np.ndarray, *, layers: int = 6, channels: int = 16,
                        names: dict[int, str] | None = None) -> Path:
    """`constant_model`'s output after `layers` real 3x3 convolutions on the 640x640 input:
    tens to hundreds of ms of work in many nodes, for tests of a model run being stopped."""
    out = np.asarray(output, dtype=np.float32)
    rng = np.random.default_rng(0)
    nodes, inits, src, c_in = [], [], "images", 3
    for n in range(layers):
        w = rng.standard_normal((channels, c_in, 3, 3)).astype(np.float32) * 0.1
        inits.append(numpy_helper.from_array(w, f"w{n}"))
        nodes.append(helper.make_node("Conv", [src, f"w{n}"], [f"c{n}"], pads=[1, 1, 1, 1]))
        src, c_in = f"c{n}", channels
    nodes += [
        helper.make_node("ReduceMean", [src], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["value", "nothing"], ["output0"]),
    ]
    inits += [numpy_helper.from_array(out, "value"), numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero")]
    graph = helper.make_graph(
        nodes, "slow_constant_detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(out.shape))],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if names is not None:
        entry = model.metadata_props.add()
        entry.key, entry.value = "names", repr(names)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
