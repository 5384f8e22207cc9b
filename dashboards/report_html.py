"""HTML pieces of the run-comparison report: one self-contained page (inline CSS, PNGs as data URIs).

Nothing here reaches the network or the filesystem, so the page opens the same from a file, an
MLflow artifact view, or an email attachment.
"""

from __future__ import annotations

import base64
import html
import re

import pandas as pd

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #1d1d1f;
       background: #ffffff; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #d0d0d0; padding-bottom: 4px; }
.summary td { padding: 2px 12px 2px 0; vertical-align: top; }
.summary td:first-child { color: #555; }
.note { color: #555; font-size: 0.9em; }
.error { color: #a00000; }
table.runs { border-collapse: collapse; font-size: 0.82em; }
table.runs th, table.runs td { border: 1px solid #d0d0d0; padding: 3px 6px; text-align: right;
                               white-space: nowrap; }
table.runs thead th { background: #eef1f5; text-align: center; }
table.runs tbody tr:nth-child(even) { background: #f8f8f8; }
table.runs tbody tr.best { background: #fff3b0; font-weight: 600; outline: 2px solid #d9a400; }
table.runs tbody tr.failed { color: #a00000; }
.scroll { overflow-x: auto; max-width: 100%; }
figure { margin: 12px 0 24px 0; }
figure img { max-width: 100%; border: 1px solid #e0e0e0; }
figcaption { color: #555; font-size: 0.9em; }
.gallery { display: flex; flex-wrap: wrap; gap: 16px; }
.gallery figure { max-width: 640px; }
pre { background: #f4f4f4; padding: 8px; overflow-x: auto; font-size: 0.85em; }
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def element_id(*parts: str) -> str:
    """A DOM id from free text (artifact paths, figure keys): letters, digits, '-', '_' only."""
    return "-".join(re.sub(r"[^A-Za-z0-9_]+", "_", p).strip("_") for p in parts)


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def figure_html(img_id: str, png: bytes, alt: str, caption: str = "") -> str:
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return (f'<figure><img id="{esc(img_id)}" alt="{esc(alt)}" src="{png_data_uri(png)}">{cap}</figure>')


def summary_html(items: list[tuple[str, str]]) -> str:
    """A two-column key/value table; values are plain text (escaped here)."""
    rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in items)
    return f'<table class="summary">{rows}</table>'


def runs_table_html(display: pd.DataFrame, run_ids: list[str], best_run_id: str | None,
                    statuses: list[str]) -> str:
    """`display` rendered by pandas (escaped), each body row tagged with its run ID; the best run's
    row gets class "best", failed runs class "failed"."""
    table = display.to_html(escape=True, index=False, na_rep="—", border=0, classes="runs",
                            table_id="runs", float_format=lambda v: f"{v:.4g}")
    head, sep, body = table.partition("<tbody>")
    # With escaping on, a literal "<tr>" can only be pandas' own row opener.
    chunks = body.split("<tr>")
    if not sep or len(chunks) - 1 != len(run_ids):
        raise RuntimeError(f"runs table: expected {len(run_ids)} body rows, pandas wrote {len(chunks) - 1}")
    rows = [chunks[0]]
    for rid, status, chunk in zip(run_ids, statuses, chunks[1:], strict=True):
        classes = [c for c, on in (("best", rid == best_run_id), ("failed", status == "FAILED")) if on]
        cls = f' class="{" ".join(classes)}"' if classes else ""
        rows.append(f'<tr data-run-id="{esc(rid)}"{cls}>{chunk}')
    return f'<div class="scroll">{head}{sep}{"".join(rows)}</div>'


def page_html(title: str, sections: list[str]) -> str:
    body = "\n".join(sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
