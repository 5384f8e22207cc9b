"""SkeletonMAE / SkeletonClassifier: config, shapes, visible-only encoder, loss, learning, transfer."""

from __future__ import annotations

import pytest
import torch
from pydantic import Field, ValidationError
from torch.utils._python_dispatch import TorchDispatchMode

from skelmae.config.loader import ConfigError, config_error, load_config
from skelmae.config.sections import Section
from skelmae.model.config import PRESETS, ModelConfig
from skelmae.model.mae import (
    EncoderWeightsError,
    SkeletonClassifier,
    SkeletonMAE,
    frame_motion,
    has_fc_norm,
    load_encoder_weights,
    patchify,
    unpatchify,
)
from skelmae.model.masking import expected_mask_ratio, masked_count
from skelmae.train.schedule import param_groups

STRATEGIES = ["random", "joint", "frame", "spatiotemporal", "motion"]


def skeleton_batch(n: int = 4, num_frames: int = 32, seed: int = 0) -> torch.Tensor:
    """Smooth periodic joint motion around a fixed pose; every other sample has an empty 2nd actor."""
    g = torch.Generator().manual_seed(seed)
    pose = torch.randn(25, 3, generator=g) * 0.3
    t = torch.arange(num_frames, dtype=torch.float32)[None, :, None, None, None]
    amp = torch.rand(n, 1, 1, 25, 3, generator=g) * 0.2
    freq = 0.1 + 0.3 * torch.rand(n, 1, 1, 1, 1, generator=g)
    phase = torch.rand(n, 1, 1, 25, 3, generator=g) * 6.28
    actor = pose + amp * torch.sin(freq * t + phase)  # [n, T, 1, 25, 3]
    x = torch.cat([actor, actor + 0.5], dim=2)  # [n, T, 2, 25, 3]
    x[::2, :, 1] = 0.0
    return x


# ---------------------------------------------------------------------------- config
class _Job(Section):
    model: ModelConfig = Field(default_factory=ModelConfig)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_resolves_every_field_and_round_trips(preset):
    cfg = ModelConfig(preset=preset)
    d = cfg.model_dump()
    assert all(v is not None for v in d.values())
    assert d == {"preset": preset, **PRESETS[preset]}
    assert ModelConfig(**d) == cfg
    cfg.validate()


def test_base_is_the_fields_standard():
    cfg = ModelConfig(preset="base")
    assert (cfg.embed_dim, cfg.depth, cfg.num_heads, cfg.num_frames, cfg.segment_len, cfg.mask_ratio) == (
        256, 8, 8, 120, 4, 0.9)
    assert 3 <= cfg.decoder_depth <= 5


def test_explicit_values_override_preset_and_load_from_cli():
    cfg = ModelConfig.model_validate({"preset": "base", "mask_ratio": "0.75", "norm_target": "false"})
    assert cfg.mask_ratio == 0.75 and cfg.norm_target is False and cfg.embed_dim == 256
    job = load_config(_Job, ["--model.mask_ratio", "0.6", "--model.mask_strategy=joint"])
    assert job.model.mask_ratio == 0.6 and job.model.mask_strategy == "joint"
    assert job.model.embed_dim == PRESETS["tiny"]["embed_dim"]
    with pytest.raises(ConfigError, match="model.mask_ratio"):
        load_config(_Job, ["--model.mask_ratio", "1.0"])


def test_unknown_preset_names_field():
    with pytest.raises(ValidationError) as v:
        ModelConfig(preset="huge")
    assert config_error(v.value).field == "preset"


@pytest.mark.parametrize("field_name,kwargs", [
    ("mask_ratio", {"mask_ratio": 1.0}),
    ("mask_ratio", {"mask_ratio": -0.1}),
    ("joint_mask_ratio", {"joint_mask_ratio": 1.0}),
    ("frame_mask_ratio", {"frame_mask_ratio": 1.5}),
    ("num_frames", {"num_frames": 30, "segment_len": 4}),
    ("num_heads", {"embed_dim": 64, "num_heads": 5}),
    ("decoder_num_heads", {"decoder_embed_dim": 64, "decoder_num_heads": 3}),
    ("embed_dim", {"embed_dim": 66, "num_heads": 3, "pos_embed": "sincos"}),
    ("mask_strategy", {"mask_strategy": "tube"}),
    ("target", {"target": "velocity"}),
    ("pos_embed", {"pos_embed": "rope"}),
    ("drop_path", {"drop_path": 1.0}),
])
def test_bad_config_fails_at_construction_naming_field(field_name, kwargs):
    with pytest.raises(ValidationError) as v:
        ModelConfig(**kwargs)
    e = config_error(v.value)
    assert e.field == field_name
    assert str(e).startswith(field_name)
    # A config changed after construction (no validation) is checked again when a model is built.
    cfg = ModelConfig().model_copy(update=kwargs)
    for build in (lambda: SkeletonMAE(cfg), lambda: SkeletonClassifier(cfg, 10)):
        with pytest.raises(ValidationError) as v:
            build()
        e = config_error(v.value)
        assert e.field == field_name
        assert str(e).startswith(field_name)


# ---------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_shapes_for_every_preset(preset):
    torch.manual_seed(0)
    cfg = ModelConfig(preset=preset)
    model = SkeletonMAE(cfg).eval()
    n, ts, v, p = 1, cfg.num_segments, cfg.num_joints, cfg.patch_dim
    x = skeleton_batch(n, cfg.num_frames)
    with torch.no_grad():
        loss, pred, mask = model(x)
        tokens, pooled = model.encode(x)
        latent, _, _ = model.forward_encoder(x)
    assert loss.shape == () and torch.isfinite(loss)
    assert pred.shape == (n, 2, ts, v, p)
    assert mask.shape == (n, 2, ts, v)
    assert latent.shape == (n * 2, cfg.num_tokens - masked_count(cfg.num_tokens, cfg.mask_ratio), cfg.embed_dim)
    assert tokens.shape == (n, 2, ts * v, cfg.embed_dim) and pooled.shape == (n, cfg.embed_dim)
    if preset == "tiny":  # the classifier is the same encoder; spare the CPU a second base pass
        clf = SkeletonClassifier(cfg, num_classes=60).eval()
        with torch.no_grad():
            assert clf(x).shape == (n, 60)
            assert clf.features(x).shape == (n, cfg.embed_dim)


def test_patchify_layout_and_round_trip():
    x = torch.randn(2, 32, 2, 25, 3)
    p = patchify(x, 4)
    assert p.shape == (2, 2, 8, 25, 12)
    # token (n, m, s, v) holds frames s*l..s*l+l-1 of joint v, frame-major then xyz
    assert torch.equal(p[1, 0, 3, 7], x[1, 12:16, 0, 7, :].reshape(-1))
    assert torch.equal(unpatchify(p, 4), x)
    assert torch.equal(unpatchify(patchify(x, 1), 1), x)


@pytest.mark.parametrize("kind", ["sincos", "learned"])
def test_position_embeddings_distinguish_every_token(kind):
    model = SkeletonMAE(ModelConfig(pos_embed=kind))
    for pe in (model.encoder.pos_embed(), model.decoder_pos_embed()):
        assert pe.shape[0] == model.cfg.num_tokens
        assert torch.cdist(pe, pe).add(torch.eye(pe.shape[0])).min() > 1e-3  # no two tokens alike
    frozen = kind == "sincos"
    assert model.encoder.spatial_pos_embed.requires_grad is not frozen
    assert model.decoder_temporal_pos_embed.requires_grad is not frozen
    loss, _, _ = model(skeleton_batch(2))
    loss.backward()
    assert torch.isfinite(loss)


def test_bad_input_shape_is_named():
    model = SkeletonMAE(ModelConfig())
    with pytest.raises(ValueError, match="x: expected"):
        model(torch.zeros(2, 30, 2, 25, 3))


# ---------------------------------------------------------------------------- masking in the model
def _frame_mask(model: SkeletonMAE, mask: torch.Tensor, n: int) -> torch.Tensor:
    """Token mask [N*M, L] -> [N, T, M, V, 1] frame-level mask."""
    cfg = model.cfg
    m = mask.reshape(n, -1, cfg.num_segments, cfg.num_joints, 1).expand(-1, -1, -1, -1, cfg.patch_dim)
    return model.unpatchify(m)[..., :1]


@pytest.mark.parametrize("strategy", ["random", "joint", "frame", "spatiotemporal"])
def test_encoder_never_sees_masked_tokens(strategy):
    torch.manual_seed(0)
    model = SkeletonMAE(ModelConfig(mask_strategy=strategy)).eval()
    x = skeleton_batch(3)
    with torch.no_grad():
        latent, mask, ids_restore = model.forward_encoder(x, generator=torch.Generator().manual_seed(5))
        fm = _frame_mask(model, mask, 3)
        x_masked_changed = x + 100.0 * torch.randn_like(x) * fm
        latent2, mask2, _ = model.forward_encoder(x_masked_changed, generator=torch.Generator().manual_seed(5))
        x_visible_changed = x + 0.1 * (1 - fm)
        latent3, _, _ = model.forward_encoder(x_visible_changed, generator=torch.Generator().manual_seed(5))
    assert torch.equal(mask, mask2)
    assert torch.equal(latent, latent2)  # bit for bit: masked inputs never reach the encoder
    assert not torch.allclose(latent, latent3)
    assert latent.shape[1] == ids_restore.shape[1] - int(mask[0].sum())


def test_encoder_cost_falls_with_mask_ratio():
    model = SkeletonMAE(ModelConfig())
    x = skeleton_batch(2)
    seen = {}
    with torch.no_grad():
        for r in (0.0, 0.5, 0.9):
            latent, mask, _ = model.forward_encoder(x, mask_ratio=r)
            seen[r] = latent.shape[1]
            assert model.effective_mask_ratio == pytest.approx(mask.mean().item())
    assert seen == {0.0: 200, 0.5: 100, 0.9: 20}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_forward_mask_matches_strategy_and_override(strategy):
    model = SkeletonMAE(ModelConfig(mask_strategy=strategy))
    x = skeleton_batch(2)
    with torch.no_grad():
        _, _, mask = model(x)
        assert mask.mean().item() == pytest.approx(expected_mask_ratio(model.cfg))
        assert model.effective_mask_ratio == pytest.approx(expected_mask_ratio(model.cfg))
        _, _, mask = model(x, mask_ratio=0.5)
    assert mask.mean().item() == pytest.approx(expected_mask_ratio(model.cfg, 0.5))
    assert model.effective_mask_ratio == pytest.approx(mask.mean().item())
    with pytest.raises(ValueError, match="mask_ratio"):
        model(x, mask_ratio=1.0)


# ---------------------------------------------------------------------------- loss and targets
def _old_loss(model: SkeletonMAE, x: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The loss as first defined: per-token MSE over every token, weighted by the mask."""
    target = model.target_tokens(x)
    err = ((pred.float().reshape(target.shape) - target) ** 2).mean(dim=-1)
    mask = mask.reshape(err.shape).to(err.dtype)
    return (err * mask).sum() / mask.sum().clamp_min(1.0)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_masked_only_loss_equals_the_weighted_definition(strategy):
    torch.manual_seed(0)
    model = SkeletonMAE(ModelConfig(mask_strategy=strategy, norm_target=strategy == "motion"))
    x = skeleton_batch(3)
    loss, pred, mask = model(x)
    pa = pred.detach().requires_grad_(True)
    pb = pred.detach().requires_grad_(True)
    new, old = model.forward_loss(x, pa, mask), _old_loss(model, x, pb, mask)
    torch.testing.assert_close(new, old)
    torch.testing.assert_close(loss, old)
    new.backward()
    old.backward()
    torch.testing.assert_close(pa.grad, pb.grad)


@pytest.mark.parametrize("setting", ["decoder", "all"])
def test_activation_checkpointing_gives_same_loss_and_gradients(setting):
    x = skeleton_batch(2)
    results = []
    for ck in ("none", setting):
        torch.manual_seed(0)
        model = SkeletonMAE(ModelConfig(activation_checkpointing=ck, drop_path=0.2)).train()
        torch.manual_seed(1)  # same masks and stochastic-depth draws in both runs
        loss, _, _ = model(x)
        loss.backward()
        results.append((loss.detach(), {n: p.grad for n, p in model.named_parameters() if p.requires_grad}))
    (la, ga), (lb, gb) = results
    torch.testing.assert_close(la, lb)
    assert ga.keys() == gb.keys()
    for name in ga:
        torch.testing.assert_close(ga[name], gb[name], msg=lambda m, n=name: f"{n}: {m}")


class _OpCounts(TorchDispatchMode):
    """Counts the aten ops that actually run (a checkpoint's cached outputs never reach this mode)."""

    def __init__(self):
        super().__init__()
        self.counts: dict[str, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.counts[str(func)] = self.counts.get(str(func), 0) + 1
        return func(*args, **(kwargs or {}))


def test_activation_checkpointing_keeps_the_attention_output():
    torch.manual_seed(0)
    model = SkeletonMAE(ModelConfig(activation_checkpointing="all")).train()
    loss, _, _ = model(skeleton_batch(2))
    with _OpCounts() as ops:
        loss.backward()
    rerun = {name for name in ops.counts if "scaled_dot_product" in name and "backward" not in name}
    assert not rerun, f"backward recomputed the attention kernel: {rerun}"
    assert ops.counts.get("aten.gelu.default", 0) > 0  # the rest of the blocks is recomputed


def test_activation_checkpointing_is_validated():
    with pytest.raises(ValidationError) as v:
        ModelConfig(activation_checkpointing="encoder")
    assert config_error(v.value).field == "activation_checkpointing"


def test_forward_reads_nothing_back_from_the_device(monkeypatch):
    """No host sync per step: neither masking nor the loss turns a tensor into a Python number."""
    model = SkeletonMAE(ModelConfig(preset="tiny", mask_strategy="motion"))
    x = skeleton_batch(2)

    def refuse(*_a, **_k):
        raise AssertionError("host sync in forward")

    for name in ("item", "__int__", "__bool__", "__float__", "tolist"):
        monkeypatch.setattr(torch.Tensor, name, refuse)
    loss, _, _ = model(x)
    loss.backward()
    monkeypatch.undo()
    assert torch.isfinite(loss)


def test_loss_ignores_visible_tokens():
    torch.manual_seed(0)
    model = SkeletonMAE(ModelConfig())
    x = skeleton_batch(2)
    _, pred, mask = model(x)
    pred = pred.detach().requires_grad_(True)
    loss = model.forward_loss(x, pred, mask)
    visible = (mask == 0)[..., None]
    with torch.no_grad():
        assert model.forward_loss(x, pred + 10.0 * visible, mask) == loss
        assert model.forward_loss(x, pred + 10.0 * ~visible, mask) != loss
    loss.backward()
    assert torch.count_nonzero(pred.grad * visible) == 0
    assert torch.count_nonzero(pred.grad * ~visible) > 0
    # The value is the mean per-token MSE over masked tokens.
    target = model.target_tokens(x)
    per_token = ((pred.detach() - target) ** 2).mean(-1)
    assert loss.item() == pytest.approx((per_token[mask.bool()]).mean().item(), rel=1e-5)


def test_targets_motion_and_normalised():
    x = skeleton_batch(2)
    motion = ModelConfig(target="motion", norm_target=False)
    t = SkeletonMAE(motion).target_tokens(x)
    assert torch.equal(t, patchify(frame_motion(x), 4))
    assert torch.allclose(frame_motion(x)[:, 3], x[:, 4] - x[:, 3]) and (frame_motion(x)[:, -1] == 0).all()
    t = SkeletonMAE(ModelConfig(norm_target=True)).target_tokens(x)
    occupied = t[1::2]  # samples with two actors, non-constant tokens
    assert torch.allclose(occupied.mean(-1), torch.zeros(()), atol=1e-5)
    assert torch.allclose(occupied.std(-1), torch.ones(()), atol=1e-2)
    assert torch.isfinite(t).all()  # an all-zero actor normalises to zeros, not NaN


@pytest.mark.parametrize("target,norm", [("coords", False), ("coords", True), ("motion", True)])
def test_reconstruct_with_perfect_prediction_gives_input(target, norm):
    model = SkeletonMAE(ModelConfig(target=target, norm_target=norm))
    x = skeleton_batch(2)
    _, _, mask = model(x)
    rec = model.reconstruct(x, model.target_tokens(x), mask)
    expected = x if target == "coords" else frame_motion(x)
    assert rec.shape == x.shape
    assert torch.allclose(rec, expected, atol=1e-4)


# ---------------------------------------------------------------------------- learning
def test_training_drives_reconstruction_loss_down():
    # Tiny matmuls gain nothing from a second thread, and on a busy 2-core machine two spinning
    # threads made this test ~10x slower; one thread keeps it a few seconds.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _train_and_check()
    finally:
        torch.set_num_threads(threads)


def _train_and_check():
    torch.manual_seed(0)
    model = SkeletonMAE(ModelConfig())
    x = skeleton_batch(4)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    losses = []
    for _ in range(200):
        loss, _, _ = model(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    first, last = losses[0], sum(losses[-10:]) / 10
    assert last < first / 20, (first, last)
    # Better than predicting each masked token as the batch's mean token (it has learned structure).
    target = model.target_tokens(x)
    baseline = ((target - target.mean(dim=(0, 1, 2, 3))) ** 2).mean().item()
    assert last < baseline / 4, (last, baseline)


def _train_steps(seed: int, steps: int = 3) -> tuple[list[float], dict]:
    torch.manual_seed(seed)
    model = SkeletonMAE(ModelConfig(drop_path=0.2, mask_strategy="motion"))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = skeleton_batch(2)
    losses = []
    for _ in range(steps):
        loss, _, _ = model(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, model.state_dict()


def test_fixed_seed_reproduces_bit_for_bit():
    la, sa = _train_steps(0)
    lb, sb = _train_steps(0)
    lc, _ = _train_steps(1)
    assert la == lb
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert la != lc


def test_drop_path_only_in_training():
    model = SkeletonMAE(ModelConfig(drop_path=0.5))
    x = skeleton_batch(2)
    model.eval()
    assert torch.equal(model.encode(x)[1], model.encode(x)[1])
    model.train()
    torch.manual_seed(0)
    a = model.encode(x)[1]
    torch.manual_seed(1)
    assert not torch.equal(a, model.encode(x)[1])


def test_bf16_autocast_path_on_cpu():
    torch.manual_seed(0)
    model = SkeletonMAE(ModelConfig())
    x = skeleton_batch(2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, pred, mask = model(x)
        _, pooled = model.encode(x)
        logits = SkeletonClassifier(model.cfg, 5)(x)
    assert pred.dtype == torch.bfloat16 and loss.dtype == torch.float32
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None and torch.isfinite(p.grad).all()
               for p in model.parameters() if p.requires_grad)
    assert pooled.shape == (2, 64) and torch.isfinite(pooled.float()).all()
    assert logits.shape == (2, 5)


# ---------------------------------------------------------------------------- features and transfer
def test_encode_pools_over_tokens_and_actors():
    model = SkeletonMAE(ModelConfig()).eval()
    x = skeleton_batch(3)
    with torch.no_grad():
        tokens, pooled = model.encode(x)
    assert torch.allclose(pooled, tokens.mean(dim=(1, 2)))
    assert torch.isfinite(tokens).all()  # the empty actor slot is ordinary data
    # A sample's features do not depend on the rest of the batch.
    with torch.no_grad():
        assert torch.allclose(model.encode(x[:1])[1], pooled[:1], atol=1e-6)


def test_load_encoder_weights_from_state_dict_file_and_ddp_prefix(tmp_path):
    torch.manual_seed(0)
    cfg = ModelConfig(pos_embed="learned")
    mae = SkeletonMAE(cfg)
    x = skeleton_batch(2)
    torch.manual_seed(1)
    sources = {
        "bare": mae.state_dict(),
        "checkpoint": {"model": mae.state_dict(), "epoch": 3, "model_config": cfg.model_dump()},
        "ddp": {"module." + k: v for k, v in mae.state_dict().items()},
    }
    path = tmp_path / "checkpoint.pt"
    torch.save(sources["checkpoint"], path)
    sources["file"] = str(path)
    mae.eval()
    with torch.no_grad():
        want = mae.encode(x)[1]
    for name, source in sources.items():
        clf = SkeletonClassifier(cfg, num_classes=7, dropout=0.1).eval()
        with torch.no_grad():
            assert not torch.allclose(clf.features(x), want)
        load_encoder_weights(clf, source)
        with torch.no_grad():
            assert torch.equal(clf.features(x), want), name
    # A classifier checkpoint feeds another model too (e.g. linear eval of a fine-tuned encoder).
    other = SkeletonMAE(cfg).eval()
    load_encoder_weights(other, clf.state_dict())
    with torch.no_grad():
        assert torch.equal(other.encode(x)[1], want)


def test_load_encoder_weights_fails_loudly():
    small = SkeletonMAE(ModelConfig(embed_dim=32)).state_dict()
    clf = SkeletonClassifier(ModelConfig(), num_classes=5)
    with pytest.raises(EncoderWeightsError) as e:
        load_encoder_weights(clf, small)
    msg = str(e.value)
    assert "encoder.spatial_pos_embed" in msg and "[25, 32]" in msg and "[25, 64]" in msg
    shallow = SkeletonMAE(ModelConfig(depth=2)).state_dict()
    with pytest.raises(EncoderWeightsError, match="missing encoder parameter encoder.blocks.2"):
        load_encoder_weights(clf, shallow)
    deep = SkeletonMAE(ModelConfig(depth=4)).state_dict()
    with pytest.raises(EncoderWeightsError, match="encoder.blocks.3"):
        load_encoder_weights(clf, deep)
    with pytest.raises(EncoderWeightsError, match="no encoder weights"):
        load_encoder_weights(clf, {"weight": torch.zeros(3)})
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        load_encoder_weights(clf, "/nonexistent/checkpoint.pt")


# ---------------------------------------------------------------------------- classifier head
def test_classifier_normalises_the_pooled_feature_before_the_head():
    # MAE's global-pool head: LayerNorm on the pooled feature. Without it the head sees features whose
    # scale and per-channel offset come from the encoder (the frozen probe standardises them; the
    # fine-tune head did not, and collapsed onto a few classes).
    torch.manual_seed(0)
    clf = SkeletonClassifier(ModelConfig(), num_classes=5, dropout=0.3).eval()
    assert isinstance(clf.fc_norm, torch.nn.LayerNorm)
    x = skeleton_batch(3)
    with torch.no_grad():
        pooled = clf.features(x)
        scaled = clf.head(clf.fc_norm(pooled * 10.0 + 3.0))
        assert torch.allclose(clf(x), clf.head(clf.fc_norm(pooled)))
        # the head's input no longer depends on the pooled feature's scale and offset
        assert torch.allclose(scaled, clf(x), atol=1e-4)
    # fc_norm learns at the head's rate and without weight decay (MAE's param_groups_lrd)
    groups = param_groups(clf, weight_decay=0.05, layer_decay=0.75)
    fc = [g for g in groups if any(p is clf.fc_norm.weight for p in g["params"])][0]
    head = [g for g in groups if any(p is clf.head.weight for p in g["params"])][0]
    assert fc["weight_decay"] == 0.0 and fc["lr_scale"] == head["lr_scale"] == 1.0


def test_classifier_checkpoints_without_fc_norm_still_load(tmp_path):
    from skelmae.serve.registry import classifier_from_state

    cfg = ModelConfig()
    old = SkeletonClassifier(cfg, num_classes=5, fc_norm=False).eval()
    assert not has_fc_norm(old.state_dict()) and has_fc_norm(SkeletonClassifier(cfg, 5).state_dict())
    state = {"model": old.state_dict(), "model_config": cfg.model_dump(mode="json"), "num_classes": 5}
    x = skeleton_batch(2)
    loaded = classifier_from_state(state, "old.pt")
    with torch.no_grad():
        assert torch.allclose(loaded(x), torch.softmax(old(x), dim=-1))
    broken = {**state, "model": {k: v for k, v in old.state_dict().items() if k != "head.bias"}}
    with pytest.raises(ValueError, match=r"old\.pt: weights do not fit.*head\.bias"):
        classifier_from_state(broken, "old.pt")
    # the encoder still transfers from a new classifier checkpoint into a pretraining model
    new = SkeletonClassifier(cfg, num_classes=5)
    mae = SkeletonMAE(cfg)
    load_encoder_weights(mae, new.state_dict())
    assert torch.equal(mae.encoder.norm.weight, new.encoder.norm.weight)
