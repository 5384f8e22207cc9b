"""Export one benchmark of a Parquet dataset in the array layout of CTR-GCN or ST-GCN/AimCLR.

    python jobs/export.py --data /data/ntu60 --benchmark ntu60-xsub --format ctrgcn-npz --out NTU60_CS.npz
    python jobs/export.py --data /data/ntu60 --benchmark ntu60-xview --format stgcn-npy --out xview/

ctrgcn-npz: x_train/x_test float32 [N, 300, 150], one-hot y_train/y_test, in the standard scripts' order.
stgcn-npy: OUT/{train,val}_data_joint.npy [N, 3, 300, 25, 2] and OUT/{train,val}_label.pkl.
"""

import sys

from data_pipeline.exporters import export_dataset
from skelmae.config.data_jobs import ExportJobConfig
from skelmae.config.loader import load_job_config
from skelmae.console import run_job


def main(argv: list[str]) -> int:
    cfg = load_job_config(ExportJobConfig, argv, "export", __doc__)
    if cfg is None:
        return 2
    s = export_dataset(cfg.data, cfg.benchmark, cfg.format, cfg.out, cfg.max_frames)
    print(f"{cfg.format} {cfg.benchmark} -> {cfg.out}: train {s['train']}, test {s['test']}, "
          f"truncated to {cfg.max_frames} frames: {s['truncated']}")
    return 0


if __name__ == "__main__":
    sys.exit(run_job("export", main, sys.argv[1:]))
