"""MAE pretraining of SkeletonMAE on Ray Train, tracked in MLflow; then a linear evaluation.

    python jobs/pretrain.py                                  # embedded default: synthetic data, tiny, CPU
    python jobs/pretrain.py --config configs/pretrain_base_ntu60.yaml --data.path /data/ntu60
    ray job submit --working-dir . -- python jobs/pretrain.py --scaling.num_workers 4 --scaling.use_gpu true
    python jobs/pretrain.py --tracking.run_name my-run --resume     # continue from the latest checkpoint

Any field of skelmae.config.jobs.PretrainConfig is a flag (`--model.mask_ratio 0.75`); `--help` lists them.
"""

import sys

from data_pipeline.redact import redact
from skelmae.config.jobs import PretrainConfig
from skelmae.config.loader import load_job_config
from skelmae.console import run_job


def main(argv: list[str]) -> int:
    # Validate everything before Ray starts or any data is touched.
    cfg = load_job_config(PretrainConfig, argv, "pretrain", __doc__)
    if cfg is None:
        return 2
    # Imported once the config is valid: a bad setting fails in a second, not after torch and Ray load.
    from skelmae.track.conventions import experiment_ui_url
    from skelmae.train.launcher import run_pretrain

    result = run_pretrain(cfg)
    print(f"pretrain MLflow run : {result['run_id']} ({redact(result['tracking_uri'])})")
    print(f"final checkpoint    : {redact(str(result['checkpoint']))}")
    if "linear_eval" in result:
        m = result["linear_eval"]["metrics"]
        print(f"linear eval         : linear_acc={m['linear_acc']:.4f} knn_acc={m['knn_acc']:.4f} "
              f"(run {result['linear_eval']['run_id']})")
    if not result["tracking_uri"].startswith(("http://", "https://")):  # a server already serves its UI
        print(f"compare runs        : mlflow ui --backend-store-uri {redact(result['tracking_uri'])}")
    print(f"then open           : {experiment_ui_url(result['tracking_uri'], result['experiment_id'])}")
    return 0


if __name__ == "__main__":
    sys.exit(run_job("pretrain", main, sys.argv[1:]))
