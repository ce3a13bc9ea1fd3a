"""One inference interface over ONNX Runtime and LiteRT.

Why: the same exported model runs on ONNX Runtime (x86 and most ARM boards) or LiteRT/XNNPACK
(Raspberry Pi, where it is often faster), chosen per model in the config. The stages only see
``Session.run(x) -> {output name: array}`` with inputs checked against the model's declared
shape and dtype, so a preprocessing bug fails loudly with expected-vs-got instead of returning
plausible nonsense. Runtimes are imported lazily: a kiosk without LiteRT still runs ONNX models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgecam.config import ModelChoice
from edgecam.errors import ModelError
from edgecam.vision.registry import ModelFile, ModelRegistry

_ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(bool)": np.bool_,
}


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape (None for a dynamic dimension) and dtype of one model input or output."""

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype[Any]

    def check(self, x: np.ndarray, model: str) -> None:
        if x.dtype != self.dtype:
            raise ModelError(f"{model}: input {self.name!r} expects dtype {self.dtype}, got {x.dtype}")
        ok = x.ndim == len(self.shape) and all(d is None or d == g for d, g in zip(self.shape, x.shape, strict=False))
        if not ok:
            want = "[" + ",".join("?" if d is None else str(d) for d in self.shape) + "]"
            raise ModelError(f"{model}: input {self.name!r} expects shape {want}, got {list(x.shape)}")


class Session:
    """A loaded model. Use :func:`open_session`; subclasses wrap one runtime each."""

    runtime: str
    file: ModelFile
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    threads: int

    def run(self, x: np.ndarray | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run once; ``x`` is the single input array or a mapping of input name to array."""
        feeds = self._feeds(x)
        return self._run(feeds)

    def _feeds(self, x: np.ndarray | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if isinstance(x, np.ndarray):
            if len(self.inputs) != 1:
                names = ", ".join(i.name for i in self.inputs)
                raise ModelError(f"{self.file.model}: model has {len(self.inputs)} inputs ({names}); pass a mapping")
            x = {self.inputs[0].name: x}
        feeds = {}
        for spec in self.inputs:
            if spec.name not in x:
                raise ModelError(f"{self.file.model}: missing input {spec.name!r}")
            arr = np.ascontiguousarray(x[spec.name])
            spec.check(arr, self.file.model)
            feeds[spec.name] = arr
        return feeds

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def close(self) -> None:
        """Drop the runtime objects (memory is freed by the runtime)."""

    def describe(self) -> dict[str, str]:
        return {"file": self.file.path.name, "sha256": self.file.sha256, "runtime": self.runtime,
                "precision": self.file.precision}


class OnnxSession(Session):
    runtime = "onnx"

    def __init__(self, f: ModelFile, threads: int) -> None:
        try:
            import onnxruntime as ort
        except ImportError as e:  # pragma: no cover - onnxruntime is a hard dependency
            raise ModelError(f"{f.path.name}: onnxruntime is not installed ({e})") from e
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        # No arena: a kiosk runs for weeks and the arena keeps the peak of every model forever
        # (the rarely used U2-Netp and text detector included); freeing per run costs < 1 ms.
        opts.enable_cpu_mem_arena = False
        opts.enable_mem_pattern = False  # planned buffers are kept per input shape; measured +13 MB for nothing
        try:
            self._sess = ort.InferenceSession(str(f.path), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # ORT raises its own exception types
            raise ModelError(f"{f.path}: ONNX Runtime cannot load the model: {e}") from e
        self.file, self.threads = f, threads

        def spec(a: Any) -> TensorSpec:
            shape = tuple(d if isinstance(d, int) else None for d in a.shape)
            return TensorSpec(a.name, shape, np.dtype(_ORT_TYPES.get(a.type, np.float32)))

        self.inputs = [spec(a) for a in self._sess.get_inputs()]
        self.outputs = [spec(a) for a in self._sess.get_outputs()]
        self._out_names = [o.name for o in self.outputs]

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            res = self._sess.run(self._out_names, feeds)
        except Exception as e:
            raise ModelError(f"{self.file.path.name}: inference failed: {e}") from e
        return dict(zip(self._out_names, res, strict=True))

    def close(self) -> None:
        self._sess = None  # type: ignore[assignment]


def _litert_interpreter() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter  # type: ignore[no-redef]
        except ImportError:
            raise ModelError(
                "LiteRT is not installed: `pip install ai-edge-litert` (or tflite-runtime), "
                "or set the model's runtime to onnx"
            ) from None
    return Interpreter


class LiteRtSession(Session):
    runtime = "tflite"

    def __init__(self, f: ModelFile, threads: int) -> None:
        interpreter_cls = _litert_interpreter()
        try:
            self._interp = interpreter_cls(model_path=str(f.path), num_threads=threads)
            self._interp.allocate_tensors()
        except Exception as e:
            raise ModelError(f"{f.path}: LiteRT cannot load the model: {e}") from e
        self.file, self.threads = f, threads

        def spec(d: dict[str, Any]) -> TensorSpec:
            sig = d.get("shape_signature")
            dims = sig if sig is not None and len(sig) else d["shape"]
            return TensorSpec(d["name"], tuple(int(v) if v >= 0 else None for v in dims), np.dtype(d["dtype"]))

        self._in = self._interp.get_input_details()
        self._out = self._interp.get_output_details()
        self.inputs = [spec(d) for d in self._in]
        self.outputs = [spec(d) for d in self._out]

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            for d, spec in zip(self._in, self.inputs, strict=True):
                self._interp.set_tensor(d["index"], feeds[spec.name])
            self._interp.invoke()
            # copy: LiteRT reuses its output buffers on the next invoke
            pairs = zip(self._out, self.outputs, strict=True)
            return {s.name: np.array(self._interp.get_tensor(d["index"])) for d, s in pairs}
        except ModelError:
            raise
        except Exception as e:
            raise ModelError(f"{self.file.path.name}: inference failed: {e}") from e

    def close(self) -> None:
        self._interp = None


def load_file(f: ModelFile, threads: int = 1) -> Session:
    """Open an already resolved (and verified) file on its runtime."""
    if f.runtime == "onnx":
        return OnnxSession(f, threads)
    if f.runtime == "tflite":
        return LiteRtSession(f, threads)
    raise ModelError(f"{f.path.name}: unknown runtime {f.runtime!r}")


def open_session(
    registry: ModelRegistry, choice: ModelChoice, default_threads: int = 1, verify: bool = True
) -> Session:
    """Resolve a config choice to a file, verify its sha256 and load it with the configured threads."""
    f = registry.resolve(choice.name, choice.runtime, choice.precision)
    if verify:
        registry.verify(f)
    return load_file(f, choice.threads or default_threads)


def open_path(path: Path | str, threads: int = 1, runtime: str | None = None) -> Session:
    """Open a model file outside any manifest (peer benchmarks, tests of the wrapper itself)."""
    p = Path(path)
    rt = runtime or ("tflite" if p.suffix == ".tflite" else "onnx")
    return load_file(ModelFile(p.stem, rt, "fp32", p, "", p.stat().st_size if p.exists() else 0), threads)


def output_by_shape(outputs: Mapping[str, np.ndarray], *shapes: Sequence[int]) -> list[np.ndarray]:
    """Pick outputs by their trailing shape: output names differ between converted runtimes."""
    picked = []
    for want in shapes:
        found = [a for a in outputs.values() if tuple(a.shape[-len(want):]) == tuple(want)]
        if not found:
            got = {k: list(v.shape) for k, v in outputs.items()}
            raise ModelError(f"no model output with trailing shape {list(want)}; outputs: {got}")
        picked.append(found[0])
    return picked
