"""Linear evaluation (and kNN) of a frozen SkeletonMAE encoder, features extracted on Ray Train.

    python jobs/linear_eval.py --pretrained <MLflow run ID | checkpoint path>
    python jobs/linear_eval.py                       # random-init encoder: the baseline to beat
    python jobs/linear_eval.py --pretrained RUN_ID --data.label_fraction 0.01
"""

import logging
import sys

from data_pipeline.errors import ConfigError
from data_pipeline.redact import redact
from skelmae.config.jobs import LinearEvalConfig
from skelmae.config.loader import load_job_config
from skelmae.train.launcher import run_linear_eval


def main(argv: list[str]) -> int:
    cfg = load_job_config(LinearEvalConfig, argv, "linear_eval", __doc__)
    if cfg is None:
        return 2
    # The platform reports progress (run IDs, where the data comes from) through `logging`.
    logging.basicConfig(format="[%(name)s] %(message)s")
    logging.getLogger("skelmae").setLevel(logging.INFO)
    try:
        result = run_linear_eval(cfg)
    except ConfigError as e:  # a setting that does not fit the cluster (tracking.storage_path)
        print(f"linear_eval: config error: {e}", file=sys.stderr)
        return 2
    m = result["metrics"]
    print(f"linear eval MLflow run: {result['run_id']} ({redact(result['tracking_uri'])})")
    print(f"linear_acc={m['linear_acc']:.4f} top5={m['linear_top5']:.4f} knn_acc={m['knn_acc']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
