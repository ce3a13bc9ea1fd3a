"""``edgecam styles list`` and ``edgecam styles preview``: look at styles without a camera or models.

Why a preview command: an operator tuning a preset in the YAML wants to see the print on a
laptop in a second, with the same renderer and config validation the daemon uses; no models
are loaded, so the background treatment is skipped (alpha None) and the crop is centred.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2

from edgecam.errors import InputImageError, StorageError

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def _book_and_dpi(args: argparse.Namespace) -> tuple[Any, int, Any]:
    from edgecam.config import load_config
    from edgecam.styles.book import StyleBook

    cfg = load_config(getattr(args, "config", None))
    return StyleBook.from_config(cfg.styles), cfg.output.dpi, cfg


def cmd_list(args: argparse.Namespace) -> int:
    book, _, _ = _book_and_dpi(args)
    rows = book.describe()
    if getattr(args, "json", False):
        print(json.dumps({"default": book.default, "styles": rows}, indent=2))
        return 0
    name_w = max(len(r["name"]) for r in rows) + 2
    print(f"default: {book.default}")
    print(f"{'NAME':<{name_w}}{'FILM':<15}{'SCENES':<26}DESCRIPTION")
    for r in rows:
        scenes = ",".join(r["scenes"]) or "-"
        src = "" if r["source"] == "builtin" else f" [{r['source']}]"
        print(f"{r['name']:<{name_w}}{r['film']:<15}{scenes:<26}{r['description']}{src}")
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    from edgecam.styles.finish import format_caption
    from edgecam.styles.render import Renderer

    book, dpi, cfg = _book_and_dpi(args)
    spec = book.get(args.name)  # UnknownStyleError lists the known names
    bgr = cv2.imread(str(args.input), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputImageError(f"{args.input}: cannot read the photo")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    renderer = Renderer(book, args.dpi or dpi)
    area, _ = renderer.crop_to_area(rgb, args.name)
    caption = args.caption
    if caption is None:
        caption = format_caption(
            book.caption_template, date=datetime.now(), scene="preview", style=args.name, device=cfg.device_id
        )
    card, info = renderer.render(
        area, None, args.name, caption if spec.caption.enabled else "", seed=args.seed
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), cv2.cvtColor(card, cv2.COLOR_RGB2BGR)):
        raise StorageError(f"{out}: cannot write (unknown extension or unwritable folder)")
    total = sum(info["timings_ms"].values())
    print(
        f"{out}: {info['style']} on {info['film']} {card.shape[1]}x{card.shape[0]} px at {info['dpi']} dpi, "
        f"rendered in {total:.1f} ms; applied: {', '.join(info['applied']) or 'nothing'}"
    )
    for reason in info["reasons"]:
        print(f"  {reason}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``styles list`` and ``styles preview`` to the top-level CLI's subparsers."""
    p = subparsers.add_parser("styles", help="list styles or render a preview", description=__doc__)
    sub = p.add_subparsers(dest="styles_command", metavar="{list,preview}")
    sub.required = True
    pl = sub.add_parser("list", help="styles, their film and the scenes mapped to them")
    pl.add_argument("--json", action="store_true", help="machine-readable output")
    pl.set_defaults(func=cmd_list)
    pp = sub.add_parser("preview", help="render a photo in a style (no models: background kept)")
    pp.add_argument("name", help="style name (see `edgecam styles list`)")
    pp.add_argument("--input", type=Path, default=SAMPLES / "astronaut.jpg", help="photo (default: a sample)")
    pp.add_argument("--out", type=Path, required=True, help="output image (.jpg or .png)")
    pp.add_argument("--caption", default=None, help="caption text (default: styles.caption template)")
    pp.add_argument("--seed", type=int, default=0, help="grain seed")
    pp.add_argument("--dpi", type=int, default=None, help="override output.dpi")
    pp.set_defaults(func=cmd_preview)
