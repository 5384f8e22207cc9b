import numpy as np

from skelmae.data.augment import random_rotate_scale, valid_crop_resize


def _ramp(t):
    # value of frame i is i everywhere: interpolation is exact to check
    return np.broadcast_to(np.arange(t, dtype=np.float32)[:, None, None, None], (t, 2, 25, 3)).copy()


def test_eval_crop_is_centred_and_resized():
    out = valid_crop_resize(_ramp(100), 20, (0.5, 0.5))
    assert out.shape == (20, 2, 25, 3) and out.dtype == np.float32
    # centred 50-frame crop: frames 25..74, monotone
    assert 24.5 <= out[0, 0, 0, 0] <= 27 and 72 <= out[-1, 0, 0, 0] <= 74.5
    assert np.all(np.diff(out[:, 0, 0, 0]) > 0)


def test_train_crop_is_random_but_seeded():
    a = valid_crop_resize(_ramp(80), 16, (0.5, 1.0), np.random.default_rng(1))
    b = valid_crop_resize(_ramp(80), 16, (0.5, 1.0), np.random.default_rng(1))
    c = valid_crop_resize(_ramp(80), 16, (0.5, 1.0), np.random.default_rng(2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.min() >= 0 and a.max() <= 79


def test_short_sequence_is_upsampled():
    out = valid_crop_resize(_ramp(3), 12, (1.0, 1.0))
    assert out.shape[0] == 12 and out[0, 0, 0, 0] == 0 and out[-1, 0, 0, 0] == 2


def test_rotation_keeps_zeros_and_vertical():
    x = np.random.default_rng(0).normal(size=(5, 2, 25, 3)).astype(np.float32)
    x[:, 1] = 0
    y = random_rotate_scale(x, np.random.default_rng(0), max_degrees=30)
    assert np.all(y[:, 1] == 0)
    np.testing.assert_allclose(y[..., 1], x[..., 1], atol=1e-6)  # rotation about the vertical axis
    assert not np.allclose(y[..., 0], x[..., 0])


def _rows(ids: list[str], rng: np.random.Generator) -> dict:
    lengths = rng.integers(40, 120, size=len(ids))
    return {"sample_id": np.array(ids), "joints": [rng.standard_normal(t * 150).astype(np.float32) for t in lengths],
            "num_frames": lengths, "label": np.zeros(len(ids), dtype=np.int64)}


def test_a_samples_augmentation_depends_on_seed_and_id_not_on_batch_or_call_order():
    """Ray Data collates from several prefetch threads in no fixed order; a restarted epoch must match."""
    from skelmae.data.batches import SequenceBatcher

    rows = _rows([f"S001C001P001R001A{i:03d}" for i in range(1, 9)], np.random.default_rng(1))
    first, second = ({k: v[:4] for k, v in rows.items()}, {k: v[4:] for k, v in rows.items()})

    def batcher(seed):
        return SequenceBatcher(32, train=True, crop=(0.5, 1.0), rotate_degrees=30.0, scale=0.1, seed=seed)

    a = batcher([0, 3])
    in_order = np.concatenate([a.arrays(first)["x"], a.arrays(second)["x"]])
    b = batcher([0, 3])
    swapped = np.concatenate([b.arrays(second)["x"], b.arrays(first)["x"]])
    np.testing.assert_array_equal(in_order, np.concatenate([swapped[4:], swapped[:4]]))
    np.testing.assert_array_equal(in_order, batcher([0, 3]).arrays(rows)["x"])  # one batch of all eight
    assert not np.array_equal(in_order, batcher([0, 4]).arrays(rows)["x"])  # another epoch, other draws
