"""Fine-tune a pretrained SkeletonMAE encoder + classification head (all weights) on Ray Train.

    python jobs/finetune.py --pretrained <MLflow run ID | checkpoint path>
    python jobs/finetune.py --pretrained RUN_ID --data.label_fraction 0.1   # semi-supervised, 10% labels
    python jobs/finetune.py --pretrained RUN_ID --register_as skelmae-classifier

The classifier is logged as an MLflow PyTorch model (`runs:/<run>/model`) with a signature.
"""

import logging
import sys

from data_pipeline.errors import ConfigError
from data_pipeline.redact import redact
from skelmae.config.jobs import FinetuneConfig
from skelmae.config.loader import load_job_config
from skelmae.train.launcher import run_finetune


def main(argv: list[str]) -> int:
    cfg = load_job_config(FinetuneConfig, argv, "finetune", __doc__)
    if cfg is None:
        return 2
    # The platform reports progress (run IDs, where the data comes from) through `logging`.
    logging.basicConfig(format="[%(name)s] %(message)s")
    logging.getLogger("skelmae").setLevel(logging.INFO)
    try:
        result = run_finetune(cfg)
    except ConfigError as e:  # a setting that does not fit the cluster (tracking.storage_path)
        print(f"finetune: config error: {e}", file=sys.stderr)
        return 2
    m = result["metrics"]
    print(f"finetune MLflow run : {result['run_id']} ({redact(result['tracking_uri'])})")
    print(f"val accuracy        : top1={m.get('val_acc', float('nan')):.4f} top5={m.get('val_top5', float('nan')):.4f}")
    print(f"model               : {result['model_uri']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
