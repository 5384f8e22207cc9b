"""What evaluation runs log besides numbers: confusion matrix with action names, per-class table."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from data_pipeline.action_names import ACTION_NAMES  # noqa: E402
from skelmae.track.figures import (  # noqa: E402
    confusion_matrix,
    feature_map_coords,
    per_class_accuracy,
    plot_confusion_matrix,
    plot_feature_map,
)


def log_confusion(logger, y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Log `confusion/confusion_matrix.png`, `.json` and `confusion/per_class_accuracy.json`."""
    names = ACTION_NAMES[:num_classes]
    cm = confusion_matrix(y_true, y_pred, num_classes)
    fig = plot_confusion_matrix(cm, names, normalize=True, labels="present",
                                title=f"confusion matrix ({len(y_true)} samples)")
    logger.log_figure(fig, "confusion/confusion_matrix.png")
    plt.close(fig)
    logger.client.log_dict(logger.run_id, {"labels": names, "matrix": cm.tolist()}, "confusion/confusion_matrix.json")
    table = per_class_accuracy(y_true, y_pred, names)
    logger.log_table(table[table["support"] > 0], "confusion/per_class_accuracy.json")
    return cm


def log_feature_map(logger, features: dict, labels: np.ndarray, seed: int = 0) -> dict:
    """Log `features/feature_map.png` (PCA and t-SNE per encoder) and the 2-D coordinates as JSON."""
    feats = {k: np.asarray(v, dtype=np.float32) for k, v in features.items()}
    coords = feature_map_coords(feats, seed=seed)
    fig = plot_feature_map(feats, labels, ACTION_NAMES, coords=coords, seed=seed,
                           title="frozen features of the validation split")
    logger.log_figure(fig, "features/feature_map.png")
    plt.close(fig)
    logger.client.log_dict(logger.run_id, {
        "labels": np.asarray(labels).tolist(),
        "coords": {k: {m: c.tolist() for m, c in v.items()} for k, v in coords.items()},
    }, "features/feature_map.json")
    return coords
