"""Import the arrays of the field's standard scripts into the Parquet dataset (no Ray needed).

    python jobs/import.py --format ctrgcn-npz --source NTU60_CS.npz --benchmark ntu60-xsub --out /data/ntu60-cs
    python jobs/import.py --format stgcn-npy --source data/NTU-RGB-D/xview --benchmark ntu60-xview --out /data/xv

ctrgcn-npz: one CTR-GCN `.npz` (x_train/x_test [N, 300, 150], one-hot y_train/y_test).
stgcn-npy: an ST-GCN/AimCLR folder of {train,val}_data_joint.npy + {train,val}_label.pkl (the label
pickle is read by a restricted unpickler: names and integer labels only).
The output follows jobs/preprocess.py: same manifest and errors table, and --out must be new, empty or
a skelmae dataset (replaced by a swap), not overlap --source, and not be in use by another run.
"""

import os
import sys
from dataclasses import dataclass
from typing import Literal

from data_pipeline.errors import ConfigError
from data_pipeline.importers import ImportFormatError, import_arrays
from data_pipeline.parquet_io import BENCHMARKS
from data_pipeline.redact import redact
from skelmae.config.loader import load_job_config
from skelmae.console import run_job


@dataclass
class ImportJobConfig:
    format: Literal["ctrgcn-npz", "stgcn-npy"] = "ctrgcn-npz"
    source: str = ""  # the .npz file (ctrgcn-npz) or the folder of .npy + .pkl (stgcn-npy)
    out: str = ""  # output dataset folder
    benchmark: str = "ntu60-xsub"  # which benchmark's train/test the arrays are
    dedupe_copied_actor: bool = True  # store a copied second actor (NTU120 scripts) as one actor

    def validate(self) -> None:
        if not self.source:
            raise ConfigError("source", "required (a .npz file or an ST-GCN folder)")
        if self.format == "ctrgcn-npz" and not os.path.isfile(self.source):
            raise ConfigError("source", f"ctrgcn-npz reads one .npz file; no such file {redact(self.source)!r}")
        if self.format == "stgcn-npy" and not os.path.isdir(self.source):
            raise ConfigError("source", f"stgcn-npy reads a folder; no such folder {redact(self.source)!r}")
        if not self.out:
            raise ConfigError("out", "required (the output dataset folder)")
        if self.benchmark not in BENCHMARKS:
            raise ConfigError("benchmark", f"must be one of {sorted(BENCHMARKS)}, got {self.benchmark!r}")


def main(argv: list[str]) -> int:
    cfg = load_job_config(ImportJobConfig, argv, "import")
    if cfg is None:
        return 2
    try:
        m = import_arrays(cfg.source, cfg.out, cfg.benchmark, cfg.dedupe_copied_actor, fmt=cfg.format)
    except ConfigError as e:
        print(f"import: config error: {e}", file=sys.stderr)
        return 2
    except (ImportFormatError, FileNotFoundError) as e:
        print(f"import: {redact(str(e))}", file=sys.stderr)
        return 1
    c = m["counts"]
    print(f"samples in : {c['samples_in']}")
    print(f"rows out   : {c['rows_out']}")
    print(f"errors     : {c['errors']}   (table: {redact(cfg.out)}/errors.parquet)")
    print(f"copied second actor removed: {c['copied_actor_removed']}")
    for bench, parts in m["splits"].items():
        print(f"{bench:<12}: train {parts['train']}, test {parts['test']}")
    return 0


if __name__ == "__main__":
    sys.exit(run_job("import", main, sys.argv[1:]))
