"""Export one benchmark of a Parquet dataset in the array layout of CTR-GCN or ST-GCN/AimCLR.

    python jobs/export.py --data /data/ntu60 --benchmark ntu60-xsub --format ctrgcn-npz --out NTU60_CS.npz
    python jobs/export.py --data /data/ntu60 --benchmark ntu60-xview --format stgcn-npy --out xview/

ctrgcn-npz: x_train/x_test float32 [N, 300, 150], one-hot y_train/y_test, in the standard scripts' order.
stgcn-npy: OUT/{train,val}_data_joint.npy [N, 3, 300, 25, 2] and OUT/{train,val}_label.pkl.
"""

import os
import sys
from dataclasses import dataclass
from typing import Literal

from data_pipeline.exporters import MAX_FRAMES, export_dataset
from data_pipeline.parquet_io import BENCHMARKS, MANIFEST
from skelmae.config.loader import ConfigError, load_job_config


@dataclass
class ExportJobConfig:
    data: str = ""  # Parquet dataset directory written by jobs/preprocess.py
    benchmark: str = "ntu60-xsub"
    format: Literal["ctrgcn-npz", "stgcn-npy"] = "ctrgcn-npz"
    out: str = ""  # .npz file (ctrgcn-npz) or directory (stgcn-npy)
    max_frames: int = MAX_FRAMES

    def validate(self) -> None:
        if not self.data:
            raise ConfigError("data", "required (a dataset directory written by jobs/preprocess.py)")
        if not os.path.isfile(os.path.join(self.data, MANIFEST)):
            raise ConfigError("data", f"{self.data!r} has no {MANIFEST}: not a finished dataset directory")
        if self.benchmark not in BENCHMARKS:
            raise ConfigError("benchmark", f"must be one of {sorted(BENCHMARKS)}, got {self.benchmark!r}")
        if not self.out:
            raise ConfigError("out", "required")
        if self.format == "ctrgcn-npz" and not self.out.endswith(".npz"):
            raise ConfigError("out", f"ctrgcn-npz writes one .npz file, got {self.out!r}")
        if self.max_frames < 1:
            raise ConfigError("max_frames", f"must be >= 1, got {self.max_frames}")


def main(argv: list[str]) -> int:
    cfg = load_job_config(ExportJobConfig, argv, "export")
    if cfg is None:
        return 2
    s = export_dataset(cfg.data, cfg.benchmark, cfg.format, cfg.out, cfg.max_frames)
    print(f"{cfg.format} {cfg.benchmark} -> {cfg.out}: train {s['train']}, test {s['test']}, "
          f"truncated to {cfg.max_frames} frames: {s['truncated']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
