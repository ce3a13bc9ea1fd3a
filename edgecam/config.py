"""Typed configuration: one YAML file, validated, overridable by ``EDGECAM_…`` variables.

Why pydantic with ``extra="forbid"``: a kiosk runs unattended for weeks, so a typo in a key must
stop the daemon at start-up with the file, the key path and what is allowed, instead of being
silently ignored and discovered at the first shot. Every section is its own model so each
subsystem receives only its part.

Environment overrides use ``EDGECAM_<SECTION>__<KEY>[__<SUBKEY>…]=value`` (double underscore
between levels, case-insensitive); the value is parsed as a YAML scalar, so ``true``, ``5`` and
``[a, b]`` mean what they look like.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edgecam.errors import ConfigError
from edgecam.styles.spec import StyleSpec

ENV_PREFIX = "EDGECAM_"
PACKAGE_DIR = Path(__file__).resolve().parent


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CameraConfig(Section):
    """Where frames come from. ``replay`` needs no hardware; ``samples`` means the bundled photos."""

    kind: Literal["replay", "opencv", "picamera2"] = "replay"
    source: str = Field(
        "samples",
        description="replay: folder of images or a video file ('samples' = bundled photos); "
        "opencv: device index, /dev/videoN, a video file or a GStreamer pipeline",
    )
    fps: float = Field(5.0, gt=0, le=120)
    loop: bool = Field(True, description="replay: start over at the end instead of stopping")
    width: int | None = Field(None, gt=0, description="requested capture width (opencv, picamera2)")
    height: int | None = Field(None, gt=0)
    preview_size: tuple[int, int] = Field((640, 480), description="picamera2 low-res stream (W, H)")
    still_size: tuple[int, int] | None = Field(None, description="picamera2 full-res still (W, H)")
    rotate: Literal[0, 90, 180, 270] = 0
    mirror: bool = False
    buffer: int = Field(4, ge=1, le=64, description="ring buffer length in frames")
    stall_timeout_s: float = Field(5.0, gt=0, description="reopen the camera after this long without a frame")


RuntimeName = Literal["auto", "onnx", "tflite"]
Precision = Literal["fp32", "int8"]


class ModelChoice(Section):
    """Which exported model a stage uses, on which runtime, at which precision."""

    name: str
    runtime: RuntimeName = "auto"
    precision: Precision = "fp32"
    threads: int | None = Field(None, ge=1, le=16, description="None = models.threads")


class ModelsConfig(Section):
    """The on-device models; every name must exist in ``exported_models/manifest.json``."""

    dir: Path | None = Field(None, description="folder with manifest.json (default: the bundled models)")
    threads: int = Field(1, ge=1, le=16)
    verify_checksums: bool = True
    face_detection: ModelChoice = Field(
        ModelChoice(name="face_detection_full_range"),
        description="face_detection_full_range (one pass, small faces) or face_detection (short range, "
        "close-up faces; pair it with vision.face_tiles 2 for faces smaller than ~10 % of the frame)",
    )
    segmentation: ModelChoice = ModelChoice(name="selfie_segmentation")
    classifier: ModelChoice = ModelChoice(name="efficientnet_lite0", precision="int8")
    text_detector: ModelChoice = ModelChoice(name="text_detector")
    salient_object: ModelChoice = ModelChoice(name="u2netp")
    scene_head: str = Field("scene_head", description="manifest entry of the trained scene head (JSON weights)")


class VisionConfig(Section):
    """Thresholds of the vision stages."""

    face_score_threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="None = the model's default (full range 0.6, short range 0.75)"
    )
    analysis_long_edge: int = Field(640, ge=128, le=4096, description="scene analysis image size")
    matte_refine: Literal["guided", "none"] = "guided"
    # radius (output pixels) and eps chosen on the hashed half 0 of person-dev, checked on half 1:
    # boundary F 0.517 -> 0.519 gated, 0.560 -> 0.565 ungated, IoU unchanged, MAE 0.095 -> 0.093
    guided_radius: int = Field(4, ge=1, le=64)
    guided_eps: float = Field(1e-3, gt=0)
    text_detection: bool = Field(True, description="run the text detector for the document class")
    text_long_edge: int = Field(
        160, ge=64, le=1024, description="text detector input long edge (rounded to 32); 160 ≈ 8 ms, 256 ≈ 17 ms"
    )
    face_tiles: int = Field(
        1, ge=1, le=4, description="also scan overlapping square tiles, N across the short side (1 = whole image only)"
    )
    matte_work_long_edge: int = Field(320, ge=64, le=2048, description="guided-filter working resolution")
    matte_flip_average: bool = Field(False, description="average the mask with its mirror image (2× cost)")
    product_cutout_on_device: bool = Field(
        False, description="run U2-Netp for product shots in the shot itself (~600 ms, ~300 MB peak on a 2-core "
        "board); off: the shot keeps its background and the cloud job product_cutout makes the cut-out")


class StylesConfig(Section):
    """Style presets and the scene → style mapping. ``default: auto`` picks by scene."""

    default: str = "auto"
    scene_map: dict[str, str] = Field(default_factory=dict, description="scene label → style name")
    presets: dict[str, StyleSpec] = Field(default_factory=dict, description="extra or overriding styles")
    luts_dir: Path | None = Field(None, description="extra folder of .cube LUT files")
    caption: str = Field("{date:%d %b %Y}", description="caption template: {date}, {scene}, {style}, {device}")


class OutputConfig(Section):
    """Where photos go and how they are written."""

    dir: Path = Path("photos")
    jpeg_quality: int = Field(92, ge=50, le=100)
    save_original: bool = True
    dpi: int = Field(300, ge=72, le=1200, description="print resolution of the styled photo")
    min_free_mb: int = Field(50, ge=0, description="refuse a shot when the disk has less free space")


class CupsConfig(Section):
    """A CUPS queue (photo printers: Canon Selphy, DNP, Mitsubishi, any driverless IPP printer).

    Why a cooldown and an auto-resume: Selphy printers hang when sent a job before they are ready
    (60–120 s apart), and CUPS stops a queue on paper-out and never restarts it by itself."""

    queue: str = Field("", pattern=r"^[A-Za-z0-9_.@-]{0,127}$", description="CUPS printer (queue) name")
    server: str | None = Field(None, description="host[:port] of cupsd; default: the local one (CUPS_SERVER)")
    options: dict[str, str] = Field(
        default_factory=dict, description="lp -o options, e.g. {media: 'Postcard', print-quality: '5'}")
    min_interval_s: float = Field(0.0, ge=0, le=600, description="hold each job until this long after the last")
    auto_resume_s: float | None = Field(
        300.0, gt=0, description="re-enable a queue CUPS stopped (paper-out, jam) after this long; null = never")
    poll_s: float = Field(2.0, gt=0, le=60, description="how often the queue's state is read")


class EscPosConfig(Section):
    """An ESC/POS thermal receipt printer: raster photos, dithered (58 mm = 384 dots, 80 mm = 576)."""

    target: str = Field(
        "", description="tcp://HOST[:PORT] (network printers, port 9100) or a device file such as /dev/usb/lp0")
    width_px: Literal[384, 576] = 384
    dither: Literal["atkinson", "floyd_steinberg", "threshold"] = "atkinson"
    cut: bool = Field(True, description="feed and cut after each copy")
    timeout_s: float = Field(10.0, gt=0, le=120)

    @field_validator("target")
    @classmethod
    def _target_form(cls, v: str) -> str:
        """Refused when the config is read (exit 2), not at the first print."""
        if v and not re.fullmatch(r"tcp://[^/\s]+|/\S+", v):
            raise ValueError(f"{v!r} is neither tcp://HOST[:PORT] (port 9100 by default) nor an absolute "
                             "device path such as /dev/usb/lp0")
        return v


class PrinterConfig(Section):
    """Where prints go. ``file`` spools each copy as a JPEG into ``spool_dir`` (another program or a
    folder-watching printer picks them up); ``cups`` prints through a CUPS queue; ``escpos`` sends
    a dithered raster to a thermal printer; ``none`` disables printing."""

    kind: Literal["none", "file", "cups", "escpos"] = "none"
    spool_dir: Path = Path("print-spool")
    auto_print: bool = Field(False, description="print every shot (copies from the shutter command)")
    max_copies: int = Field(5, ge=1, le=50)
    cups: CupsConfig = CupsConfig()
    escpos: EscPosConfig = EscPosConfig()

    @model_validator(mode="after")
    def _target_given(self) -> PrinterConfig:
        if self.kind == "cups" and not self.cups.queue:
            raise ValueError("printer.kind is cups but printer.cups.queue is empty (the CUPS printer name)")
        if self.kind == "escpos" and not self.escpos.target:
            raise ValueError("printer.kind is escpos but printer.escpos.target is empty "
                             "(tcp://HOST:9100 or a device file such as /dev/usb/lp0)")
        return self


class KeyboardTriggerConfig(Section):
    enabled: bool = True


class GpioTriggerConfig(Section):
    """A physical shutter button (BCM numbering), debounced in software."""

    enabled: bool = False
    pin: int = Field(17, ge=0, le=53)
    pull_up: bool = True
    debounce_ms: int = Field(300, ge=0, le=5000)
    hold_s: float = Field(3.0, gt=0, description="a press this long runs hold_action instead of the shutter")
    hold_action: Literal["pause", "resume", "status", "print_resume", "none"] = "pause"
    led_pin: int | None = Field(None, ge=0, le=53)


class TriggersConfig(Section):
    keyboard: KeyboardTriggerConfig = KeyboardTriggerConfig()
    gpio: GpioTriggerConfig = GpioTriggerConfig()


class HomeAssistantConfig(Section):
    enabled: bool = True
    prefix: str = "homeassistant"


class MqttConfig(Section):
    """Broker session. The password is read from a file (or systemd credential), never from YAML."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    protocol: Literal["auto", "5", "3.1.1"] = Field(
        "auto", description="auto: MQTT v5, falling back to 3.1.1 once if the broker does not accept v5")
    client_id: str | None = None
    username: str | None = None
    password_file: Path | None = Field(None, description="file holding the password; "
                                       "'credential:NAME' reads $CREDENTIALS_DIRECTORY/NAME")
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive_s: int = Field(30, ge=5, le=3600)
    session_expiry_s: int = Field(86400, ge=0)
    topic_prefix: str = "edgecam"
    max_payload_bytes: int = Field(65536, ge=256, description="larger command payloads are refused")
    max_packet_bytes: int = Field(256 * 1024, ge=1024, description="larger job payloads are chunked")
    allow_commands: list[str] | None = Field(None, description="None = every command")
    reconnect_min_s: float = Field(1.0, gt=0)
    reconnect_max_s: float = Field(60.0, gt=0)
    homeassistant: HomeAssistantConfig = HomeAssistantConfig()


class OutboxConfig(Section):
    """Persistent queue of cloud jobs (SQLite, WAL)."""

    path: Path | None = Field(None, description="default: <output.dir>/outbox.sqlite")
    jobs: list[Literal["product_cutout", "matte_refine", "archive"]] = Field(
        default_factory=lambda: ["archive"], description="jobs queued after every shot"
    )
    retry_min_s: float = Field(2.0, gt=0)
    retry_max_s: float = Field(300.0, gt=0)
    ack_timeout_s: float = Field(60.0, gt=0, description="re-send a job with no result after this long")
    max_attempts: int = Field(20, ge=1, description="a job still without a result after this many sends fails")
    max_job_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="hard cap: larger jobs are refused")
    send_batch: int = Field(50, ge=1, le=10000, description="jobs published per sender pass")


class WorkerConfig(Section):
    """The cloud side (`edgecam worker`)."""

    group: str = "edgecam-workers"
    results_dir: Path = Path("worker-results")
    threads: int = Field(2, ge=1, le=64)
    client_id: str | None = Field(None, description="default: edgecam-worker-<hostname>; stable = persistent session")
    chunk_wait_s: float = Field(30.0, gt=0, description="how long to wait for a chunked job's parts")
    result_retention_h: float = Field(
        168.0, gt=0, description="keep stored results this long (they answer redeliveries without recomputing); "
        "older ones are pruned at start and every 10 minutes. Archived originals are never pruned")


class LoggingConfig(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_format: bool = Field(False, description="one JSON object per log line (for journald)")


class Config(Section):
    """The whole daemon configuration."""

    device_id: str = Field("kiosk", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    camera: CameraConfig = CameraConfig()
    models: ModelsConfig = ModelsConfig()
    vision: VisionConfig = VisionConfig()
    styles: StylesConfig = StylesConfig()
    output: OutputConfig = OutputConfig()
    triggers: TriggersConfig = TriggersConfig()
    printer: PrinterConfig = PrinterConfig()
    mqtt: MqttConfig = MqttConfig()
    outbox: OutboxConfig = OutboxConfig()
    worker: WorkerConfig = WorkerConfig()
    logging: LoggingConfig = LoggingConfig()

    @model_validator(mode="after")
    def _defaults_that_depend_on_others(self) -> Config:
        if self.outbox.path is None:
            self.outbox.path = self.output.dir / "outbox.sqlite"
        return self

    def resolve_paths(self, base: Path) -> Config:
        """Relative paths in a config file are relative to the file's folder, not the cwd."""
        out = self.model_copy(deep=True)

        def fix(p: Path | None) -> Path | None:
            if p is None:
                return None
            return p if p.is_absolute() else Path(os.path.normpath(base / p))

        out.output.dir = fix(out.output.dir) or out.output.dir
        out.outbox.path = fix(out.outbox.path)
        out.printer.spool_dir = fix(out.printer.spool_dir) or out.printer.spool_dir
        out.worker.results_dir = fix(out.worker.results_dir) or out.worker.results_dir
        if out.models.dir is not None:
            out.models.dir = fix(out.models.dir)
        if out.styles.luts_dir is not None:
            out.styles.luts_dir = fix(out.styles.luts_dir)
        for spec in out.styles.presets.values():
            if spec.background.image is not None:
                spec.background.image = fix(spec.background.image)
        if out.mqtt.password_file is not None and not str(out.mqtt.password_file).startswith("credential:"):
            out.mqtt.password_file = fix(out.mqtt.password_file)
        return out


def default_config_path() -> Path:
    """The embedded default config: ``configs/default.yaml`` of a source checkout, else the copy a
    wheel install put under ``<prefix>/share/edgecam``; missing both, the built-in defaults apply."""
    here = PACKAGE_DIR.parent / "configs" / "default.yaml"
    if here.exists():
        return here
    installed = Path(sys.prefix) / "share" / "edgecam" / "configs" / "default.yaml"
    return installed if installed.exists() else here


def _format_loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "<root>"


def _from_env(loc: tuple[Any, ...], overrides: Mapping[str, Any] | None) -> str:
    node: Any = overrides or {}
    for part in loc:
        if not isinstance(node, Mapping) or str(part) not in node:
            return ""
        node = node[str(part)]
    return " [set by " + ENV_PREFIX + "__".join(str(p).upper() for p in loc) + "]"


def _format_errors(source: str, err: ValidationError, overrides: Mapping[str, Any] | None = None) -> str:
    lines = [f"{source}: invalid configuration ({err.error_count()} error(s))"]
    for e in err.errors():
        loc = _format_loc(tuple(e["loc"])) + _from_env(tuple(e["loc"]), overrides)
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            parent = _parent_model(tuple(e["loc"])[:-1])
            allowed = ", ".join(sorted(parent.model_fields)) if parent else "?"
            msg = f"unknown key; allowed here: {allowed}"
        elif e["type"] == "literal_error":
            msg = f"{msg}"
        got = e.get("input")
        got_s = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"  {loc}: {msg}{got_s}")
    return "\n".join(lines)


def _parent_model(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = Config
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        else:
            return None
    return model


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.upper().startswith(ENV_PREFIX) or key.upper() in ("EDGECAM_CONFIG", "EDGECAM_MODELS_DIR"):
            continue
        parts = [p.lower() for p in key[len(ENV_PREFIX):].split("__") if p]
        if not parts:
            continue
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        node = tree
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment: {key}: conflicts with another EDGECAM_ variable")
        node[parts[-1]] = value
    return tree


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def load_config(path: Path | str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read, merge env overrides, validate. Raises ConfigError naming the file and key path."""
    environ = os.environ if environ is None else environ
    if path is None:
        path = environ.get("EDGECAM_CONFIG") or default_config_path()
    path = Path(path)
    data: Any = {}
    if path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: cannot read: {e}") from e
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
            raise ConfigError(f"{path}:{where}: not valid YAML: {getattr(e, 'problem', e)}") from e
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(data).__name__}")
    elif path != default_config_path():
        raise ConfigError(f"{path}: no such config file")
    overrides = _env_overrides(environ)
    source = str(path) + (" + EDGECAM_* environment" if overrides else "")
    try:
        cfg = Config.model_validate(_deep_merge(data, overrides))
    except ValidationError as e:
        raise ConfigError(_format_errors(source, e, overrides)) from None
    # Relative paths: relative to the config file, or to the cwd for the built-in defaults.
    return cfg.resolve_paths(path.resolve().parent if path.exists() else Path.cwd())


def apply_override(cfg: Config, override: str) -> Config:
    """Apply one ``KEY.PATH=VALUE`` override (the CLI's ``--set``), validated like the file.

    Paths derived from others follow them: moving ``output.dir`` moves the default outbox with it.
    """
    if "=" not in override:
        raise ConfigError(f"--set {override!r}: expected KEY.PATH=VALUE")
    key, raw = override.split("=", 1)
    data = cfg.model_dump(mode="json")
    if cfg.outbox.path == cfg.output.dir / "outbox.sqlite":
        data["outbox"]["path"] = None
    node = data
    parts = key.split(".")
    for p in parts[:-1]:
        if not isinstance(node.get(p), dict):
            raise ConfigError(f"--set {key}: no section {p!r}")
        node = node[p]
    try:
        node[parts[-1]] = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {key}: value is not valid YAML: {e}") from None
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_errors("--set", e)) from None


def dump_config(cfg: Config) -> str:
    """The effective config as YAML (what ``edgecam config check`` prints)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
