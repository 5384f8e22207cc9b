"""Quick look at one sample: `python -m dashboards.show FILE_OR_SAMPLE_ID [--data DIR] [--out x.png]`.

A `.skeleton` file goes through the same preprocessing as the dataset (`data_pipeline.process`); a
sample ID is read from the Parquet dataset given by `--data`. The output format follows `--out`'s
extension: `.png` (a strip of frames), `.gif` or `.html` (an animation). Default: `<id>.png` here.
"""

from __future__ import annotations

import argparse
import os
import sys

from dashboards.skeleton_source import load_sequence
from skelmae.track.skeleton_plot import DEFAULT_VIEW, plot_sequence_strip, save_animation

FORMATS = (".png", ".gif", ".html")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dashboards.show", description=__doc__.split("\n")[0])
    p.add_argument("source", help="a .skeleton file, or a sample ID (e.g. S001C002P003R002A013) with --data")
    p.add_argument("--data", default=None, help="processed dataset directory (for a sample ID)")
    p.add_argument("--out", default=None, help="output .png, .gif or .html (default: <id>.png)")
    p.add_argument("--frames", type=int, default=8, help="frames in the .png strip (default 8)")
    p.add_argument("--elev", type=float, default=DEFAULT_VIEW[0], help="view elevation in degrees")
    p.add_argument("--azim", type=float, default=DEFAULT_VIEW[1], help="view azimuth in degrees")
    p.add_argument("--fps", type=int, default=15, help="animation frames per second")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sample_id = os.path.basename(args.source).split(".", 1)[0] or "sample"
    out = args.out or f"{sample_id}.png"
    ext = os.path.splitext(out)[1].lower()
    if ext not in FORMATS:
        print(f"--out: {out!r} must end in one of {', '.join(FORMATS)}", file=sys.stderr)
        return 2
    if args.frames < 1:
        print(f"--frames: must be >= 1, got {args.frames}", file=sys.stderr)
        return 2
    try:
        data, title = load_sequence(args.source, data_dir=args.data)
    except (OSError, KeyError, ValueError) as e:  # SampleError and SkeletonFormatError are ValueErrors
        print(f"cannot load {args.source}: {e}", file=sys.stderr)
        return 1
    view = (args.elev, args.azim)
    if ext == ".png":
        fig = plot_sequence_strip(data, num_frames=args.frames, view=view, title=title)
        fig.savefig(out, dpi=100)
    else:
        save_animation(data, out, view=view, fps=args.fps, title=title)
    print(f"wrote {os.path.abspath(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
