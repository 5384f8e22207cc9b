"""Write synthetic NTU RGB+D-format `.skeleton` files (the embedded default data set).

    python jobs/make_synthetic.py --out data/synthetic_raw --samples 500
    python jobs/make_synthetic.py --out /tmp/raw --samples 84 --seed 3 --actions 8,9,10,23
"""

import sys
import time
from dataclasses import dataclass, field

from data_pipeline.synthetic import ACTION_SPECS, SYNTHETIC_ACTIONS, generate_dataset
from skelmae.config.loader import ConfigError, load_job_config


@dataclass
class MakeSyntheticConfig:
    out: str = "data/synthetic_raw"
    samples: int = 500
    seed: int = 0
    actions: list[int] = field(default_factory=lambda: list(SYNTHETIC_ACTIONS))
    workers: int = 1

    def validate(self) -> None:
        if not self.out:
            raise ConfigError("out", "must name a directory")
        if self.samples < 1:
            raise ConfigError("samples", f"must be >= 1, got {self.samples}")
        if self.workers < 1:
            raise ConfigError("workers", f"must be >= 1, got {self.workers}")
        unknown = [a for a in self.actions if a not in ACTION_SPECS]
        if not self.actions or unknown or len(set(self.actions)) != len(self.actions):
            raise ConfigError("actions", f"must be distinct IDs among {list(SYNTHETIC_ACTIONS)}, got {self.actions}")


def main(argv: list[str]) -> int:
    cfg = load_job_config(MakeSyntheticConfig, argv, "make_synthetic")
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
