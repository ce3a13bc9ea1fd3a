"""The model manifest: which exported files exist, where they came from, and their checksums.

Why a manifest with sha256: a kiosk is offline and runs for weeks; a half-copied or swapped model
file must stop the daemon at start-up with the file and both hashes, not produce silent garbage
(or a crash) at the first shot. Nothing is ever downloaded at run time.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgecam.errors import ModelError

MANIFEST = "manifest.json"
RUNTIMES = ("onnx", "tflite")


def default_models_dir() -> Path:
    """``$EDGECAM_MODELS_DIR``, else the source checkout's ``exported_models/``, else the installed copy."""
    env = os.environ.get("EDGECAM_MODELS_DIR")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[2] / "exported_models"
    if (checkout / MANIFEST).exists():
        return checkout
    return Path(sys.prefix) / "share" / "edgecam" / "exported_models"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class ModelFile:
    """One resolved, loadable file of a model."""

    model: str
    runtime: str  # "onnx" | "tflite"
    precision: str  # "fp32" | "int8"
    path: Path
    sha256: str
    bytes: int

    @property
    def key(self) -> str:
        return f"{self.runtime}-{self.precision}" if self.precision else self.runtime


class ModelRegistry:
    """Reads ``manifest.json`` in a folder and resolves model choices to verified files."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.dir = Path(directory) if directory is not None else default_models_dir()
        path = self.dir / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(f"{path}: no model manifest (set models.dir or EDGECAM_MODELS_DIR)") from None
        except (OSError, ValueError) as e:
            raise ModelError(f"{path}: cannot read the model manifest: {e}") from e
        models = data.get("models") if isinstance(data, dict) else None
        if not isinstance(models, dict):
            raise ModelError(f"{path}: manifest has no 'models' mapping")
        self.manifest_path = path
        self.manifest: dict[str, Any] = data
        self.models: dict[str, dict[str, Any]] = models
        self._verified: dict[Path, str] = {}

    def names(self) -> list[str]:
        return sorted(self.models)

    def entry(self, name: str) -> dict[str, Any]:
        try:
            return self.models[name]
        except KeyError:
            raise ModelError(
                f"model {name!r} is not in {self.manifest_path}; known: {', '.join(self.names())}"
            ) from None

    def files(self, name: str) -> list[ModelFile]:
        """Every file the manifest lists for a model (runtime-precision keys like ``onnx-int8``)."""
        out = []
        for key, spec in sorted(self.entry(name).get("files", {}).items()):
            runtime, _, precision = key.partition("-")
            out.append(
                ModelFile(
                    model=name,
                    runtime=runtime,
                    precision=precision or ("fp32" if runtime in RUNTIMES else ""),
                    path=self.dir / spec["file"],
                    sha256=str(spec["sha256"]).lower(),
                    bytes=int(spec.get("bytes", 0)),
                )
            )
        return out

    def resolve(self, name: str, runtime: str = "auto", precision: str = "fp32") -> ModelFile:
        """Pick the file for (name, runtime, precision); ``auto`` prefers ONNX Runtime, else LiteRT."""
        files = {f.key: f for f in self.files(name)}
        order = RUNTIMES if runtime == "auto" else (runtime,)
        for rt in order:
            f = files.get(f"{rt}-{precision}")
            if f is not None:
                return f
        raise ModelError(
            f"model {name!r} has no {runtime}/{precision} file; available: {', '.join(sorted(files)) or 'none'}"
        )

    def verify(self, f: ModelFile) -> None:
        """Raise ModelError unless the file exists and its sha256 matches the manifest."""
        if not f.path.is_file():
            raise ModelError(f"{f.path}: model file missing (listed for {f.model!r} in {self.manifest_path})")
        if self._verified.get(f.path) == f.sha256:
            return
        got = sha256_file(f.path)
        if got != f.sha256:
            raise ModelError(
                f"{f.path}: checksum mismatch for model {f.model!r}: manifest sha256 {f.sha256}, file sha256 {got}"
            )
        self._verified[f.path] = got

    def aux(self, filename: str) -> ModelFile:
        """A verified auxiliary file (e.g. ImageNet labels) listed under ``aux_files``."""
        spec = self.manifest.get("aux_files", {}).get(filename)
        if spec is None:
            raise ModelError(f"{filename!r} is not listed under aux_files in {self.manifest_path}")
        f = ModelFile(filename, "aux", "", self.dir / filename, str(spec["sha256"]).lower(), int(spec.get("bytes", 0)))
        self.verify(f)
        return f

    def preprocess(self, name: str) -> dict[str, Any]:
        return dict(self.entry(name).get("preprocess") or {})

    def layout(self, f: ModelFile) -> str:
        """Input layout (NHWC/NCHW) of a resolved file, from the manifest (per file, else per model)."""
        spec = self.entry(f.model).get("files", {}).get(f.key, {})
        inputs = spec.get("inputs") or self.entry(f.model).get("inputs") or [{}]
        return str(inputs[0].get("layout", "NCHW"))

    def verify_all(self) -> list[tuple[ModelFile, str | None]]:
        """(file, error or None) for every file of every model, without stopping at the first error."""
        out: list[tuple[ModelFile, str | None]] = []
        for fname in sorted(self.manifest.get("aux_files", {})):
            try:
                out.append((self.aux(fname), None))
            except (ModelError, KeyError, ValueError) as e:
                out.append((ModelFile(fname, "aux", "", self.dir / fname, "", 0), str(e)))
        for name in self.names():
            for f in self.files(name):
                try:
                    self.verify(f)
                    out.append((f, None))
                except ModelError as e:
                    out.append((f, str(e)))
        return out
