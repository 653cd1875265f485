"""Render the run report in headless Chromium (Debian's `chromium` package) and check that it
rendered with its plots:

* every <img> of the page is a base64 data URI that decodes to a valid PNG (Pillow opens it);
* the screenshot is a real page, not a blank one: the fraction of non-white pixels is above
  a floor, and the plot colours are present.

    from quality_checks.render import check_render
    result = check_render(report_html, "shot.png")   # raises RenderError when it did not render
"""
from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
IMG_SRC = re.compile(r'<img\b[^>]*\bsrc="([^"]*)"', re.IGNORECASE)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class RenderError(RuntimeError):
    pass


@dataclass
class RenderResult:
    screenshot: Path
    width: int
    height: int
    ink_fraction: float      # share of pixels that are not (near-)white
    colour_fraction: float   # share of saturated (plot-coloured) pixels
    images: int              # embedded PNGs that decoded


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def embedded_pngs(html_text: str) -> list[tuple[int, int]]:
    """(width, height) of every <img>; raises RenderError when one is not an embedded PNG."""
    from PIL import Image

    sizes = []
    for i, src in enumerate(IMG_SRC.findall(html_text)):
        prefix = "data:image/png;base64,"
        if not src.startswith(prefix):
            raise RenderError(f"img #{i} is not an embedded PNG data URI (src starts {src[:30]!r})")
        raw = base64.b64decode(src[len(prefix):], validate=True)
        if not raw.startswith(PNG_MAGIC):
            raise RenderError(f"img #{i} does not decode to PNG bytes")
        with Image.open(io.BytesIO(raw)) as im:
            im.verify()
        with Image.open(io.BytesIO(raw)) as im:
            sizes.append(im.size)
    return sizes


def screenshot(html_path: Path, png_path: Path, width: int = 1200, height: int = 4000, timeout: int = 120) -> Path:
    chromium = find_chromium()
    if chromium is None:
        raise RenderError("chromium not found on PATH (Debian: apt-get install -y chromium)")
    png_path = Path(png_path).resolve()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="codemill-chromium-") as profile:
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--hide-scrollbars", "--no-first-run", f"--user-data-dir={profile}",
               f"--screenshot={png_path}", f"--window-size={width},{height}",
               Path(html_path).resolve().as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not png_path.exists():
        raise RenderError(f"chromium exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return png_path


def pixel_stats(png_path: Path) -> tuple[int, int, float, float]:
    import numpy as np
    from PIL import Image

    with Image.open(png_path) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.int16)
    h, w, _ = rgb.shape
    ink = (rgb.min(axis=2) < 235).mean()
    saturation = rgb.max(axis=2) - rgb.min(axis=2)
    colour = (saturation > 60).mean()
    return w, h, float(ink), float(colour)


def check_render(html_path: Path, png_path: Path, min_ink: float = 0.02, min_colour: float = 0.005,
                 width: int = 1200, height: int = 4000) -> RenderResult:
    html_text = Path(html_path).read_text(encoding="utf-8")
    sizes = embedded_pngs(html_text)
    if not sizes:
        raise RenderError(f"{html_path} embeds no plot")
    shot = screenshot(Path(html_path), Path(png_path), width, height)
    w, h, ink, colour = pixel_stats(shot)
    if ink < min_ink:
        raise RenderError(f"screenshot {shot} is nearly blank: {ink:.2%} non-white pixels (< {min_ink:.0%})")
    if colour < min_colour:
        raise RenderError(f"screenshot {shot} shows no plot colours: {colour:.2%} saturated pixels")
    return RenderResult(shot, w, h, ink, colour, len(sizes))
