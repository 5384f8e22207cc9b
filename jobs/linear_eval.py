"""Linear evaluation (and kNN) of a frozen SkeletonMAE encoder, features extracted on Ray Train.

    python jobs/linear_eval.py --pretrained <MLflow run ID | checkpoint path>
    python jobs/linear_eval.py                       # random-init encoder: the baseline to beat
    python jobs/linear_eval.py --pretrained RUN_ID --data.label_fraction 0.01
"""

import sys

from data_pipeline.redact import redact
from skelmae.config.jobs import LinearEvalConfig
from skelmae.config.loader import load_job_config
from skelmae.console import run_job


def main(argv: list[str]) -> int:
    cfg = load_job_config(LinearEvalConfig, argv, "linear_eval", __doc__)
    if cfg is None:
        return 2
    # Imported once the config is valid: a bad setting fails in a second, not after torch and Ray load.
    from skelmae.track.conventions import experiment_ui_url
    from skelmae.train.launcher import run_linear_eval

    result = run_linear_eval(cfg)
    m = result["metrics"]
    print(f"linear eval MLflow run: {result['run_id']} ({redact(result['tracking_uri'])})")
    print(f"linear_acc={m['linear_acc']:.4f} top5={m['linear_top5']:.4f} knn_acc={m['knn_acc']:.4f}")
    print(f"MLflow UI: {experiment_ui_url(result['tracking_uri'], result['experiment_id'])}")
    return 0


if __name__ == "__main__":
    sys.exit(run_job("linear_eval", main, sys.argv[1:]))
