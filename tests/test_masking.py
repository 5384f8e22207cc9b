"""Masking strategies: exact counts, structure (joints / segments), index consistency, motion bias."""

from __future__ import annotations

import pytest
import torch

from skelmae.model.config import ModelConfig
from skelmae.model.masking import (
    expected_mask_ratio,
    frame_masking,
    ids_from_mask,
    joint_masking,
    masked_count,
    motion_masking,
    random_masking,
    sample_mask,
    scaled_subratios,
    spatiotemporal_masking,
    spatiotemporal_ratio,
    token_motion,
)

B, TS, V = 6, 8, 25
L = TS * V
RATIOS = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99]


def _check_indices(ids_keep, ids_restore, mask, num_masked):
    assert ids_keep.shape == (B, L - num_masked)
    assert ids_restore.shape == (B, L) and mask.shape == (B, L)
    assert mask.dtype == torch.float32
    assert torch.equal(mask.sum(dim=1), torch.full((B,), float(num_masked)))
    # Kept ids are exactly the visible tokens.
    assert torch.equal(torch.gather(mask, 1, ids_keep), torch.zeros_like(ids_keep, dtype=torch.float32))
    # ids_restore undoes [visible, masked] ordering: restoring a 0/1 sequence gives the mask back.
    ordered = torch.cat([torch.zeros(B, L - num_masked), torch.ones(B, num_masked)], dim=1)
    assert torch.equal(torch.gather(ordered, 1, ids_restore), mask)
    # And restores token identity: gather(cat(keep, masked ids), ids_restore) == arange.
    masked_ids = torch.argsort(mask, dim=1, stable=True)[:, L - num_masked:]
    ids = torch.cat([ids_keep, masked_ids], dim=1)
    assert torch.equal(torch.gather(ids, 1, ids_restore), torch.arange(L).expand(B, L))


def test_masked_count_rounds_half_up_and_keeps_one_visible():
    assert masked_count(200, 0.75) == 150
    assert masked_count(25, 0.9) == 23  # 22.5 rounds up
    assert masked_count(8, 0.99) == 7  # never all of them
    assert masked_count(200, 0.0) == 0
    assert masked_count(1, 0.5) == 0


@pytest.mark.parametrize("ratio", RATIOS)
def test_random_exact_count(ratio):
    ids_keep, ids_restore, mask = random_masking(B, TS, V, ratio)
    _check_indices(ids_keep, ids_restore, mask, masked_count(L, ratio))


@pytest.mark.parametrize("ratio", RATIOS)
def test_joint_masks_same_joints_in_every_segment(ratio):
    ids_keep, ids_restore, mask = joint_masking(B, TS, V, ratio)
    nj = masked_count(V, ratio)
    _check_indices(ids_keep, ids_restore, mask, nj * TS)
    m = mask.reshape(B, TS, V)
    assert torch.equal(m, m[:, :1].expand(B, TS, V))  # identical in every segment
    assert torch.equal(m[:, 0].sum(dim=1), torch.full((B,), float(nj)))


@pytest.mark.parametrize("ratio", RATIOS)
def test_frame_masks_every_joint_of_chosen_segments(ratio):
    ids_keep, ids_restore, mask = frame_masking(B, TS, V, ratio)
    nf = masked_count(TS, ratio)
    _check_indices(ids_keep, ids_restore, mask, nf * V)
    m = mask.reshape(B, TS, V)
    assert torch.equal(m, m[:, :, :1].expand(B, TS, V))  # a segment is all-masked or all-visible
    assert torch.equal(m[:, :, 0].sum(dim=1), torch.full((B,), float(nf)))


@pytest.mark.parametrize("jr,fr", [(0.0, 0.0), (0.4, 0.5), (0.6, 0.75), (0.2, 0.0), (0.0, 0.3), (0.99, 0.99)])
def test_spatiotemporal_is_union_of_joint_and_frame_masks(jr, fr):
    ids_keep, ids_restore, mask = spatiotemporal_masking(B, TS, V, jr, fr)
    nj, nf = masked_count(V, jr), masked_count(TS, fr)
    expected = nj * TS + nf * V - nj * nf
    assert spatiotemporal_ratio(TS, V, jr, fr) == pytest.approx(expected / L)
    _check_indices(ids_keep, ids_restore, mask, expected)
    m = mask.reshape(B, TS, V).bool()
    full_segments = m.all(dim=2)  # [B, Ts]
    full_joints = m.all(dim=1)  # [B, V]
    for b in range(B):
        # Outside the masked segments (at least one segment stays), the same nj joints are masked.
        visible_segs = ~full_segments[b]
        assert int(visible_segs.sum()) == TS - nf
        joint_pattern = m[b][visible_segs]
        assert torch.equal(joint_pattern, joint_pattern[:1].expand_as(joint_pattern))
        assert int(joint_pattern[0].sum()) == nj
        assert torch.equal(m[b], full_segments[b][:, None] | full_joints[b][None, :])


def test_spatiotemporal_paper_setting_reports_effective_ratio():
    # tiny: 10 of 25 joints, 4 of 8 segments -> 1 - 0.6 * 0.5 = 0.7
    assert spatiotemporal_ratio(8, 25, 0.4, 0.5) == pytest.approx(0.7)
    j, f = scaled_subratios(0.4, 0.5, 0.9)
    assert 1 - (1 - j) * (1 - f) == pytest.approx(0.9)
    assert j / f == pytest.approx(0.4 / 0.5)


@pytest.mark.parametrize("ratio", RATIOS)
def test_motion_exact_count(ratio):
    motion = torch.rand(B, TS, V)
    ids_keep, ids_restore, mask = motion_masking(motion, ratio, tau=0.8)
    _check_indices(ids_keep, ids_restore, mask, masked_count(L, ratio))


def test_motion_masks_high_motion_tokens_more_often():
    torch.manual_seed(0)
    motion = torch.full((1, TS, V), 0.01)
    motion[:, :, :5] = 1.0  # five fast joints
    freq = torch.zeros(TS, V)
    for _ in range(200):
        _, _, mask = motion_masking(motion, 0.5, tau=0.8)
        freq += mask.reshape(TS, V)
    fast, slow = freq[:, :5].mean() / 200, freq[:, 5:].mean() / 200
    assert fast > 0.8 and slow < 0.5, (fast, slow)
    # A motionless sequence (empty actor slot) is masked uniformly: every token sometimes.
    _, _, mask = motion_masking(torch.zeros(50, TS, V), 0.5, tau=0.8)
    assert (mask.mean(dim=0) > 0.2).all()


def test_token_motion_is_segment_difference():
    p = torch.zeros(1, 3, 2, 4)
    p[0, 1, 0] = 2.0
    m = token_motion(p)
    assert m.shape == (1, 3, 2)
    assert torch.allclose(m[0, :, 0], torch.tensor([2.0, 2.0, 2.0]))  # first segment copies the second
    assert torch.allclose(m[0, :, 1], torch.zeros(3))


@pytest.mark.parametrize("fn", [random_masking, joint_masking, frame_masking])
def test_generator_and_seed_reproduce_masks(fn):
    a = fn(B, TS, V, 0.6, torch.Generator().manual_seed(3))
    b = fn(B, TS, V, 0.6, torch.Generator().manual_seed(3))
    c = fn(B, TS, V, 0.6, torch.Generator().manual_seed(4))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a[2], c[2])
    torch.manual_seed(7)
    d = fn(B, TS, V, 0.6)
    torch.manual_seed(7)
    e = fn(B, TS, V, 0.6)
    assert torch.equal(d[0], e[0])


@pytest.mark.parametrize("ratio", [-0.1, 1.0, 1.5])
def test_bad_ratio_names_field(ratio):
    with pytest.raises(ValueError, match="^mask_ratio"):
        random_masking(B, TS, V, ratio)
    with pytest.raises(ValueError, match="^joint_mask_ratio"):
        spatiotemporal_masking(B, TS, V, ratio, 0.5)


def test_ids_from_mask_rejects_uneven_rows():
    mask = torch.zeros(2, 4, dtype=torch.bool)
    mask[0, 0] = True
    with pytest.raises(ValueError, match="same number"):
        ids_from_mask(mask)


@pytest.mark.parametrize("strategy", ["random", "joint", "frame", "spatiotemporal", "motion"])
def test_sample_mask_dispatch_and_override(strategy):
    cfg = ModelConfig(mask_strategy=strategy)
    patches = torch.randn(B, cfg.num_segments, cfg.num_joints, cfg.patch_dim)
    _, _, mask = sample_mask(cfg, patches)
    assert mask.mean().item() == pytest.approx(expected_mask_ratio(cfg))
    _, _, mask = sample_mask(cfg, patches, mask_ratio=0.5)
    assert mask.mean().item() == pytest.approx(expected_mask_ratio(cfg, 0.5))
    assert abs(mask.mean().item() - 0.5) < 0.1


@pytest.mark.parametrize("strategy", ["random", "joint", "frame", "spatiotemporal", "motion"])
@pytest.mark.parametrize("ratio", [0.0, 0.3, 0.9])
def test_known_count_gives_the_counted_ids(strategy, ratio):
    """Strategies pass their masked count to ids_from_mask (no host sync); it must be the mask's own."""
    cfg = ModelConfig(mask_strategy=strategy)
    patches = torch.randn(B, cfg.num_segments, cfg.num_joints, cfg.patch_dim)
    ids_keep, ids_restore, mask = sample_mask(cfg, patches, mask_ratio=ratio)
    counted = ids_from_mask(mask)
    assert torch.equal(ids_keep, counted[0]) and torch.equal(ids_restore, counted[1])
