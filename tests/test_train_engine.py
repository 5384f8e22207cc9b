"""The training epoch (plain torch, no Ray): accumulation, fixed step count, non-finite stop; the global
batch and lr scaling rules; layer-wise lr decay groups; RNG states that survive a weights_only load."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from data_pipeline.errors import ConfigError
from skelmae.config.jobs import FinetuneConfig, OptimConfig, PretrainConfig
from skelmae.config.loader import load_config
from skelmae.model.config import ModelConfig
from skelmae.model.mae import SkeletonClassifier
from skelmae.train.engine import NonFiniteLossError, train_one_epoch
from skelmae.train.rng import get_rng_states, set_rng_states
from skelmae.train.schedule import lr_at, param_groups


def _mse(model, x, y):
    return ((model(x).squeeze(1) - y.float()) ** 2).mean(), None


def _data(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 5, generator=g), torch.randint(0, 3, (n,), generator=g)


def _batches(x, y, micro: int) -> list[dict]:
    return [{"x": x[i:i + micro], "label": y[i:i + micro]} for i in range(0, len(x), micro)]


def _one_step(accum: int, micro: int) -> torch.Tensor:
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    optim = OptimConfig(epochs=1, batch_size=8, accum_steps=accum, base_lr=32.0, min_lr=0.0, warmup_epochs=0,
                        grad_clip=0.0)
    x, y = _data(8)
    stats = train_one_epoch(model, _batches(x, y, micro), opt, torch.device("cpu"), 0, 1, optim, "fp32", _mse)
    assert stats.steps == 1 and stats.seen == 8
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_two_accumulated_half_batches_step_like_the_full_batch():
    full = _one_step(accum=1, micro=8)
    halves = _one_step(accum=2, micro=4)
    torch.manual_seed(0)
    start = torch.cat([p.detach().flatten() for p in torch.nn.Linear(5, 1).parameters()])
    assert not torch.allclose(full, start)  # it did step (lr = 32 x 8 / 256 = 1)
    torch.testing.assert_close(halves, full, rtol=1e-6, atol=1e-7)


def test_epoch_takes_exactly_steps_per_epoch_optimizer_steps_and_drops_the_rest():
    model = torch.nn.Linear(5, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    optim = OptimConfig(epochs=2, batch_size=8, accum_steps=2, base_lr=1e-3, min_lr=0.0)
    x, y = _data(44)
    stats = train_one_epoch(model, _batches(x, y, 4), opt, torch.device("cpu"), 0, 3, optim, "fp32", _mse)
    assert stats.steps == 3 and stats.seen == 24  # 11 micro-batches read, 6 trained on


def test_nan_loss_stops_the_epoch_naming_epoch_and_step():
    calls = {"n": 0}

    def poisoned(model, x, y):
        calls["n"] += 1
        loss, _ = _mse(model, x, y)
        return (loss * float("nan") if calls["n"] == 4 else loss), None

    model = torch.nn.Linear(5, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    optim = OptimConfig(epochs=5, batch_size=4, base_lr=1e-3, min_lr=0.0)
    x, y = _data(40)
    with pytest.raises(NonFiniteLossError, match="epoch 2, step 3"):
        train_one_epoch(model, _batches(x, y, 4), opt, torch.device("cpu"), 2, 10, optim, "fp32", poisoned)


def test_lr_scales_with_the_global_batch_and_both_are_configurable():
    cfg = load_config(PretrainConfig, ["--optim.batch_size", "64", "--optim.base_lr", "1e-3"])
    assert cfg.optim.lr == pytest.approx(1e-3 * 64 / 256)
    assert lr_at(cfg.optim.epochs / 2 + cfg.optim.warmup_epochs / 2, cfg.optim) < cfg.optim.lr
    assert lr_at(cfg.optim.warmup_epochs, cfg.optim) == pytest.approx(cfg.optim.lr)


@pytest.mark.parametrize("job", [PretrainConfig, FinetuneConfig])
def test_global_batch_must_divide_by_workers_times_accumulation(job):
    with pytest.raises(ConfigError) as e:
        load_config(job, ["--optim.batch_size", "30", "--scaling.num_workers", "2", "--optim.accum_steps", "4"])
    assert e.value.field == "optim.batch_size"
    assert "num_workers x optim.accum_steps = 8" in str(e.value)
    load_config(job, ["--optim.batch_size", "32", "--scaling.num_workers", "2", "--optim.accum_steps", "4"])


def test_layer_decay_scales_lr_from_head_down_to_embeddings():
    model = SkeletonClassifier(ModelConfig(preset="tiny", num_frames=16), 60)
    depth = len(model.encoder.blocks)
    groups = param_groups(model, 0.05, layer_decay=0.5)
    scale_of = {id(p): g["lr_scale"] for g in groups for p in g["params"]}
    assert scale_of[id(model.head.weight)] == 1.0
    assert scale_of[id(model.encoder.blocks[depth - 1].mlp[0].weight)] == 0.5
    assert scale_of[id(model.encoder.patch_embed.weight)] == 0.5 ** (depth + 1)
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    assert all(g["lr_scale"] == 1.0 for g in param_groups(model, 0.05))
    nodecay = {id(p) for g in groups if g["weight_decay"] == 0.0 for p in g["params"]}
    assert id(model.head.bias) in nodecay and id(model.head.weight) not in nodecay


def test_rng_states_survive_a_weights_only_checkpoint(tmp_path):
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    torch.save({"rng": [get_rng_states()]}, tmp_path / "c.pt")
    expected = (torch.rand(3), np.random.rand(3), random.random())
    states = torch.load(tmp_path / "c.pt", weights_only=True)["rng"][0]
    torch.manual_seed(9), np.random.seed(9), random.seed(9)
    set_rng_states(states)
    got = (torch.rand(3), np.random.rand(3), random.random())
    torch.testing.assert_close(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    assert got[2] == expected[2]
