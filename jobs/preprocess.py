"""Preprocess raw NTU RGB+D `.skeleton` files into the Parquet dataset, on Ray Data.

    python jobs/preprocess.py --raw-dir /data/nturgb+d_skeletons --out /data/ntu60 --dataset ntu60
    python jobs/preprocess.py --raw-dir s3://bucket/ntu120/raw --out s3://bucket/ntu120/parquet \
        --dataset ntu120 --denoise clean --align-view
    ray job submit --working-dir . -- python jobs/preprocess.py --raw-dir ... --out ...

Any field of data_pipeline.pipeline.PreprocessJobConfig is a flag (`--files-per-part 64`), or put
them in a YAML file given with `--config`. Re-running into the same --out replaces the dataset (a
swap: a kill leaves the old or the new one). --out must be new, an empty folder or a dataset written
here; it must not overlap --raw-dir, and one run at a time holds it. Only `*.skeleton` names are read;
every one is a row, an error or an exclusion: files in = rows out + errors + excluded.
"""

import sys

from data_pipeline.errors import ConfigError
from data_pipeline.pipeline import PreprocessJobConfig, run_preprocess
from data_pipeline.redact import redact
from skelmae.config.loader import load_job_config
from skelmae.console import quiet_ray_data, run_job


def main(argv: list[str]) -> int:
    # Validate everything before Ray starts or any file is read.
    cfg = load_job_config(PreprocessJobConfig, argv, "preprocess", __doc__)
    if cfg is None:
        return 2
    quiet_ray_data()
    try:
        manifest = run_preprocess(
            cfg.raw_dir,
            cfg.out,
            dataset=cfg.dataset,
            cfg=cfg.preprocess_config(),
            files_per_part=cfg.files_per_part,
            ray_address=cfg.ray_address,
            num_cpus=cfg.num_cpus,
        )
    except ConfigError as e:
        print(f"preprocess: config error: {e}", file=sys.stderr)
        return 2
    c = manifest["counts"]
    out = redact(cfg.out)
    print(f"files in   : {c['files_in']}   (= rows out + errors + excluded)")
    print(f"rows out   : {c['rows_out']}")
    print(f"errors     : {c['errors']}   (table: {out}/errors.parquet)")
    print(f"excluded   : {c['excluded']}")
    for reason, n in c["skipped_by_reason"].items():
        print(f"  {reason:<16} {n}")
    print(f"not samples: {c['ignored_names']}   (names not ending in .skeleton, hidden, folders seen twice)")
    for bench, parts in manifest["splits"].items():
        print(f"{bench:<12}: train {parts['train']}, test {parts['test']}")
    print(f"took       : {manifest['timings']['total_s']:.1f} s; manifest {out}/manifest.json")
    return 0


if __name__ == "__main__":
    sys.exit(run_job("preprocess", main, sys.argv[1:]))
