"""The pretraining picture: original, masked input and the MAE's reconstruction of fixed samples."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import torch  # noqa: E402

from data_pipeline.action_names import action_name  # noqa: E402
from skelmae.model.config import ModelConfig  # noqa: E402
from skelmae.model.mae import SkeletonMAE  # noqa: E402
from skelmae.track.figures import plot_reconstruction  # noqa: E402


@torch.no_grad()
def reconstruct_samples(mae: SkeletonMAE, x: np.ndarray, seed: int = 0, device="cpu"):
    """Mask and reconstruct x [N, T, M, V, C]; returns (recon coords [N, T, M, V, C], mask [N, M, Ts, V]).

    A motion-target model predicts next-frame differences; its picture shows the one-step estimate
    x[t] + predicted motion at masked positions, so every strategy is drawn in coordinates.
    """
    was_training = mae.training
    mae.eval()
    xt = torch.as_tensor(x, dtype=torch.float32, device=device)
    g = torch.Generator(device=xt.device).manual_seed(seed)
    _, pred, mask = mae(xt, generator=g)
    recon = mae.reconstruct(xt, pred, mask)
    if mae.cfg.target == "motion":
        coords = xt.clone()
        coords[:, 1:] = xt[:, :-1] + recon[:, :-1]
        recon = coords
    mae.train(was_training)
    return recon.cpu().numpy(), mask.cpu().numpy()


def reconstruction_figure(mae: SkeletonMAE, samples: dict, cfg: ModelConfig, device="cpu", seed: int = 0):
    """One figure: for each sample, rows original / masked input / reconstruction."""
    x = samples["x"]
    recon, mask = reconstruct_samples(mae, x, seed=seed, device=device)
    titles = [f"{sid} - {action_name(int(y))}" for sid, y in zip(samples["sample_id"], samples["label"], strict=True)]
    return plot_reconstruction(list(x), list(mask), list(recon), segment_len=cfg.segment_len, titles=titles)
