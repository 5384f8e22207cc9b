"""Fine-tune a pretrained SkeletonMAE encoder + classification head (all weights) on Ray Train.

    python jobs/finetune.py --pretrained <MLflow run ID | checkpoint path>
    python jobs/finetune.py --pretrained RUN_ID --data.label_fraction 0.1   # semi-supervised, 10% labels
    python jobs/finetune.py --pretrained RUN_ID --register_as skelmae-classifier

The classifier is logged as an MLflow PyTorch model (`runs:/<run>/model`) with a signature.
"""

import sys

from data_pipeline.redact import redact
from skelmae.config.jobs import FinetuneConfig
from skelmae.config.loader import load_job_config
from skelmae.console import run_job


def main(argv: list[str]) -> int:
    cfg = load_job_config(FinetuneConfig, argv, "finetune", __doc__)
    if cfg is None:
        return 2
    # Imported once the config is valid: a bad setting fails in a second, not after torch and Ray load.
    from skelmae.track.conventions import experiment_ui_url
    from skelmae.train.launcher import run_finetune

    result = run_finetune(cfg)
    m = result["metrics"]
    print(f"finetune MLflow run : {result['run_id']} ({redact(result['tracking_uri'])})")
    print(f"val accuracy        : top1={m.get('val_acc', float('nan')):.4f} top5={m.get('val_top5', float('nan')):.4f}")
    print(f"model               : {result['model_uri']}")
    print(f"MLflow UI           : {experiment_ui_url(result['tracking_uri'], result['experiment_id'])}")
    return 0


if __name__ == "__main__":
    sys.exit(run_job("finetune", main, sys.argv[1:]))
