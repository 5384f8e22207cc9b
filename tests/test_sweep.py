"""The sweep's settings. The sweep itself (parent/child MLflow runs, ASHA, best trial, champion, report,
resume) runs on the multi-node cluster box: tests/test_cluster_box.py."""

from __future__ import annotations

import pytest

from skelmae.config.jobs import SweepConfig
from skelmae.config.loader import ConfigError, load_config


def test_sweep_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="^mask_ratios"):
        load_config(SweepConfig, ["--mask_ratios", "0.5,1.0"])
    with pytest.raises(ConfigError, match="^strategies"):
        load_config(SweepConfig, ["--strategies", "random,diagonal"])
    with pytest.raises(ConfigError, match="^pretrain.model.preset"):
        load_config(SweepConfig, ["--pretrain.model.preset", "huge"])


def test_trial_config_applies_the_trial_and_masking_sub_ratio_rule():
    from skelmae.tune.sweep import trial_pretrain_config

    base = load_config(SweepConfig, ["--pretrain.optim.batch_size", "16"]).pretrain
    cfg = trial_pretrain_config(base, {"strategy": "spatiotemporal", "mask_ratio": 0.75, "base_lr": 0.002})
    # Split evenly between joints and segments so that 1 - (1 - j)(1 - f) = 0.75.
    assert cfg.model.joint_mask_ratio == pytest.approx(0.5) == cfg.model.frame_mask_ratio
    assert cfg.optim.base_lr == 0.002 and cfg.optim.batch_size == 16 and cfg.optim.epochs == base.optim.epochs
    other = trial_pretrain_config(base, {"strategy": "random", "mask_ratio": 0.6, "preset": "base"})
    assert other.model.embed_dim == 256 and other.model.mask_strategy == "random" and other.model.mask_ratio == 0.6
