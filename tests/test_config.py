"""Typed configs: YAML + command-line overrides, validation that names the field."""

import pytest

from skelmae.config.loader import ConfigError, load_config
from skelmae.config.jobs import FinetuneConfig, LinearEvalConfig, PretrainConfig


def test_defaults_are_the_embedded_default():
    cfg = load_config(PretrainConfig, [])
    assert cfg.model.preset == "tiny"
    assert cfg.data.path == ""  # synthetic
    assert cfg.scaling.use_gpu is False


def test_yaml_then_cli_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("seed: 3\noptim:\n  epochs: 7\n  lr: 0.01\nmodel:\n  mask_ratio: 0.8\n")
    cfg = load_config(PretrainConfig, ["--config", str(f), "--optim.lr=0.002", "--model.mask_ratio", "0.6"])
    assert cfg.seed == 3 and cfg.optim.epochs == 7
    assert cfg.optim.lr == pytest.approx(0.002)
    assert cfg.model.mask_ratio == pytest.approx(0.6)


@pytest.mark.parametrize(
    "argv, field",
    [
        (["--model.preset", "huge"], "model.preset"),
        (["--model.mask_ratio", "1.0"], "model.mask_ratio"),
        (["--data.path", "/no/such/dataset"], "data.path"),
        (["--optim.epochs", "0"], "optim.epochs"),
        (["--optim.epochs", "two"], "optim.epochs"),
        (["--scaling.num_workers", "0"], "scaling.num_workers"),
        (["--data.benchmark", "ntu99-xsub"], "data.benchmark"),
        (["--no_such_field", "1"], "no_such_field"),
    ],
)
def test_bad_values_name_the_field(argv, field):
    with pytest.raises(ConfigError) as e:
        load_config(PretrainConfig, argv)
    assert e.value.field == field
    assert str(e.value).startswith(field)


def test_missing_config_file_is_an_error():
    with pytest.raises(ConfigError, match="config"):
        load_config(FinetuneConfig, ["--config", "/no/such.yaml"])


def test_resume_needs_a_run_name():
    with pytest.raises(ConfigError, match="resume"):
        load_config(PretrainConfig, ["--resume"])


def test_linear_eval_bool_and_float_parsing():
    cfg = load_config(LinearEvalConfig, ["--scaling.use_gpu=false", "--data.label_fraction", "0.1"])
    assert cfg.scaling.use_gpu is False and cfg.data.label_fraction == pytest.approx(0.1)


def test_partial_override_keeps_a_sections_custom_defaults():
    from skelmae.tune.sweep import SweepConfig

    cfg = load_config(SweepConfig, ["--pretrain.optim.batch_size", "16", "--pretrain.model.preset", "base"])
    assert cfg.pretrain.optim.batch_size == 16
    assert cfg.pretrain.optim.epochs == SweepConfig().pretrain.optim.epochs != PretrainConfig().optim.epochs
    assert cfg.pretrain.scaling.cpus_per_worker == SweepConfig().pretrain.scaling.cpus_per_worker
    assert cfg.pretrain.model.embed_dim == 256  # the base preset resolved, not tiny's sizes
