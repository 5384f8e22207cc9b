"""Render an HTML report or a served web app in real headless Chromium and inspect what the browser saw.

Tests use it to check that a written report displays: a screenshot that is not blank, and the
browser's DOM with the embedded figures decodable as PNGs; and what the MLflow UI shows at an address.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import signal
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np

CHROMIUM = "/usr/bin/chromium"
_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-dev-shm-usage", "--hide-scrollbars")


def find_chromium() -> str | None:
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run_chromium(args: list[str], timeout_s: float) -> str:
    # Own process group, so that the browser's helper processes end with it even on a timeout.
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise RuntimeError(f"chromium did not finish in {timeout_s:.0f} s: {' '.join(args)}") from None
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if proc.returncode != 0:
        raise RuntimeError(f"chromium exited {proc.returncode}: {err[-2000:]}")
    return out


def render_in_chromium(html_path: str | Path, screenshot_path: str | Path,
                       window_size: tuple[int, int] = (1400, 3000), timeout_s: float = 120) -> str:
    """Open the file in headless Chromium: write a screenshot PNG, return the DOM as the browser built it."""
    chromium = find_chromium()
    if chromium is None:
        raise FileNotFoundError(f"no Chromium at {CHROMIUM} or on PATH")
    url = Path(html_path).resolve().as_uri()
    shot = Path(screenshot_path).resolve()
    shot.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        common = [chromium, *_FLAGS, f"--user-data-dir={profile}",
                  f"--window-size={window_size[0]},{window_size[1]}"]
        _run_chromium([*common, f"--screenshot={shot}", url], timeout_s)
        dom = _run_chromium([*common, "--dump-dom", url], timeout_s)
    if not shot.is_file() or shot.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot at {shot}")
    return dom


def load_in_chromium(url: str, screenshot_path: str | Path | None = None, window_size: tuple[int, int] = (1400, 900),
                     budget_ms: int = 20000, timeout_s: float = 90) -> str:
    """Load a web app's address in headless Chromium with a fresh profile: return the DOM the app built
    within `budget_ms` of virtual time (pending network loads hold virtual time), and, if asked, write
    a screenshot from a second fresh profile."""
    chromium = find_chromium()
    if chromium is None:
        raise FileNotFoundError(f"no Chromium at {CHROMIUM} or on PATH")

    def run(*extra: str) -> str:
        with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
            return _run_chromium([chromium, *_FLAGS, f"--user-data-dir={profile}",
                                  f"--window-size={window_size[0]},{window_size[1]}",
                                  f"--virtual-time-budget={budget_ms}", *extra, url], timeout_s)

    dom = run("--dump-dom")
    if screenshot_path is not None:
        shot = Path(screenshot_path).resolve()
        shot.parent.mkdir(parents=True, exist_ok=True)
        run(f"--screenshot={shot}")
        if not shot.is_file() or shot.stat().st_size == 0:
            raise RuntimeError(f"chromium wrote no screenshot at {shot}")
    return dom


class _ImgCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append({k: v or "" for k, v in attrs})


def dom_images(dom: str) -> list[dict[str, str]]:
    """The attributes of every <img> in the DOM, in document order."""
    p = _ImgCollector()
    p.feed(dom)
    return p.images


def embedded_pngs(dom: str) -> dict[str, bytes]:
    """img id -> decoded bytes, for every <img> whose src is a base64 PNG data URI."""
    prefix = "data:image/png;base64,"
    return {a.get("id", f"img{i}"): base64.b64decode(a["src"][len(prefix):], validate=True)
            for i, a in enumerate(dom_images(dom)) if a.get("src", "").startswith(prefix)}


def png_stats(png: bytes) -> tuple[int, int, float]:
    """(width, height, standard deviation of the pixel values) of a PNG; raises if it does not decode."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        if im.format != "PNG":
            raise ValueError(f"not a PNG: {im.format}")
        arr = np.asarray(im.convert("RGB"), dtype=np.float32)  # arr: [H, W, 3]
    return arr.shape[1], arr.shape[0], float(arr.std())
