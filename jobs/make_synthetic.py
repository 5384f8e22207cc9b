"""Write synthetic NTU RGB+D-format `.skeleton` files (the embedded default data set).

    python jobs/make_synthetic.py --out data/synthetic_raw --samples 500
    python jobs/make_synthetic.py --out /tmp/raw --samples 84 --seed 3 --actions 8,9,10,23
"""

import sys
import time

from data_pipeline.synthetic import generate_dataset
from skelmae.config.data_jobs import MakeSyntheticConfig
from skelmae.config.loader import load_job_config


def main(argv: list[str]) -> int:
    cfg = load_job_config(MakeSyntheticConfig, argv, "make_synthetic", __doc__)
    if cfg is None:
        return 2
    start = time.perf_counter()
    paths = generate_dataset(cfg.out, cfg.samples, seed=cfg.seed, actions=cfg.actions, workers=cfg.workers)
    took = time.perf_counter() - start
    print(f"wrote {len(paths)} .skeleton files ({len(cfg.actions)} actions, seed {cfg.seed}) to {cfg.out} "
          f"in {took:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
