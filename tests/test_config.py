"""Typed configs: YAML + command-line overrides, validation that names the field."""

import importlib.util
import pickle
from pathlib import Path

import pytest

from skelmae.config.jobs import FinetuneConfig, LinearEvalConfig, PretrainConfig, SweepConfig
from skelmae.config.loader import ConfigError, load_config

REPO = Path(__file__).resolve().parents[1]


def test_defaults_are_the_embedded_default():
    cfg = load_config(PretrainConfig, [])
    assert cfg.model.preset == "tiny"
    assert cfg.data.path == ""  # synthetic
    assert cfg.scaling.use_gpu is False


def test_yaml_then_cli_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("seed: 3\noptim:\n  epochs: 7\n  base_lr: 0.01\nmodel:\n  mask_ratio: 0.8\n")
    cfg = load_config(PretrainConfig, ["--config", str(f), "--optim.base_lr=0.002", "--model.mask_ratio", "0.6"])
    assert cfg.seed == 3 and cfg.optim.epochs == 7
    assert cfg.optim.base_lr == pytest.approx(0.002)
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
    cfg = load_config(SweepConfig, ["--pretrain.optim.batch_size", "16", "--pretrain.model.preset", "base"])
    assert cfg.pretrain.optim.batch_size == 16
    assert cfg.pretrain.optim.epochs == SweepConfig().pretrain.optim.epochs != PretrainConfig().optim.epochs
    assert cfg.pretrain.scaling.cpus_per_worker == SweepConfig().pretrain.scaling.cpus_per_worker
    assert cfg.pretrain.model.embed_dim == 256  # the base preset resolved, not tiny's sizes


# ---------------------------------------------------------------------------- settings that cannot work
@pytest.mark.parametrize("argv, field", [
    (["--optim.epochs", "nan"], "optim.epochs"),
    (["--optim.batch_size", "inf"], "optim.batch_size"),
    (["--seed", "-inf"], "seed"),
])
def test_nan_or_inf_for_an_integer_names_the_field(argv, field):
    with pytest.raises(ConfigError) as e:
        load_config(PretrainConfig, argv)
    assert e.value.field == field


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "Infinity"])
def test_non_finite_learning_rate_is_refused(value):
    # Before: `--optim.lr inf` trained on NaN losses and exited 0.
    with pytest.raises(ConfigError) as e:
        load_config(PretrainConfig, ["--optim.base_lr", value])
    assert e.value.field == "optim.base_lr"
    with pytest.raises(ConfigError) as e:
        load_config(LinearEvalConfig, ["--lr", value])
    assert e.value.field == "lr"


@pytest.mark.parametrize("argv, field", [
    (["--optim.min_lr", "nan"], "optim.min_lr"),
    (["--model.mask_ratio", "nan"], "model.mask_ratio"),
    (["--data.rotate_degrees", "inf"], "data.rotate_degrees"),
    (["--scaling.cpus_per_worker", "inf"], "scaling.cpus_per_worker"),
])
def test_no_non_finite_float_anywhere(argv, field):
    with pytest.raises(ConfigError) as e:
        load_config(PretrainConfig, argv)
    assert e.value.field == field
    with pytest.raises(ConfigError, match="^base_lrs"):
        load_config(SweepConfig, ["--base_lrs", "0.001,inf"])


def test_yaml_syntax_error_gives_file_and_line(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("seed: 1\noptim:\n  base_lr: [0.1\n  epochs: 3\n")
    with pytest.raises(ConfigError) as e:
        load_config(PretrainConfig, ["--config", str(f)])
    assert e.value.field == "config"
    assert f"{f}:4" in str(e.value)


def test_yaml_python_tag_is_refused_not_run(tmp_path):
    marker = tmp_path / "ran"
    f = tmp_path / "evil.yaml"
    f.write_text(f"seed: 1\noptim: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ConfigError) as e:
        load_config(PretrainConfig, ["--config", str(f)])
    assert f"{f}:2" in str(e.value)
    assert not marker.exists()


def test_data_path_without_a_manifest_is_not_a_dataset(tmp_path):
    (tmp_path / "somedir").mkdir()
    (tmp_path / "somedir" / "x.parquet").write_bytes(b"")
    with pytest.raises(ConfigError) as e:
        load_config(FinetuneConfig, ["--data.path", str(tmp_path / "somedir")])
    assert e.value.field == "data.path"
    assert "manifest.json" in str(e.value) and "jobs/preprocess.py" in str(e.value)
    # URIs are checked when the job reads them.
    assert load_config(FinetuneConfig, ["--data.path", "s3://bucket/ntu60"]).data.path == "s3://bucket/ntu60"


def _job(name: str):
    spec = importlib.util.spec_from_file_location(f"job_{name}", REPO / "jobs" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bad_setting_fails_before_ray_and_mlflow(tmp_path, capsys, monkeypatch):
    import ray

    monkeypatch.chdir(tmp_path)
    was_running = ray.is_initialized()
    db = tmp_path / "mlflow.db"
    argv = ["--optim.base_lr", "inf", "--tracking.tracking_uri", f"sqlite:///{db}",
            "--tracking.storage_path", str(tmp_path / "runs")]
    assert _job("pretrain").main(argv) == 2
    assert "optim.base_lr" in capsys.readouterr().err
    assert not db.exists() and not (tmp_path / "runs").exists()
    assert ray.is_initialized() == was_running


@pytest.mark.parametrize("job, fields", [
    ("pretrain", ["--model.mask_ratio", "--optim.base_lr", "--data.benchmark", "--scaling.num_workers", "--knn_every"]),
    ("finetune", ["--pretrained", "--label_smoothing", "--optim.epochs"]),
    ("linear_eval", ["--pretrained", "--lr", "--knn_k"]),
    ("sweep", ["--mask_ratios", "--strategies", "--pretrain.optim.epochs", "--pretrain.model.preset"]),
    ("export", ["--data", "--format", "--max_frames"]),
    ("make_synthetic", ["--out", "--samples", "--actions"]),
    ("preprocess", ["--raw_dir", "--out", "--dataset", "--denoise"]),
    ("predict", ["--model", "--top"]),
])
def test_help_on_every_job(job, fields, capsys):
    with pytest.raises(SystemExit) as e:
        _job(job).main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for f in fields:
        assert f in out, f


def test_help_shows_type_default_and_description(capsys):
    with pytest.raises(SystemExit):
        _job("sweep").main(["--help"])
    out = capsys.readouterr().out
    # The sweep's own pretraining defaults, the choices of an enumeration, and the field's description.
    assert "--pretrain.optim.epochs int  (default 6)" in out
    assert "--search {grid,random}  (default grid)" in out
    assert "epochs before ASHA may stop a trial" in out


def test_num_classes_follows_the_benchmark():
    assert load_config(PretrainConfig, []).data.num_classes == 60
    assert load_config(PretrainConfig, ["--data.benchmark", "ntu120-xset"]).data.num_classes == 120
    with pytest.raises(ConfigError, match="^data.num_classes"):
        load_config(PretrainConfig, ["--data.num_classes", "7"])


def test_config_crosses_process_boundaries_as_the_model():
    cfg = load_config(SweepConfig, ["--pretrain.optim.batch_size", "16", "--mask_ratios", "0.5,0.9"])
    again = pickle.loads(pickle.dumps(cfg))
    assert again == cfg and isinstance(again.pretrain, PretrainConfig)


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    job = {"pretrain": PretrainConfig, "finetune": FinetuneConfig, "linear": LinearEvalConfig}[path.name.split("_")[0]]
    # Their data.path points at a cluster's dataset; the rest must be valid as written.
    cfg = load_config(job, ["--config", str(path), "--data.path", ""])
    assert cfg.data.benchmark == "ntu60-xsub" and cfg.data.num_classes == 60
