"""What evaluation runs log besides numbers: confusion matrix with action names, per-class table."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dashboards.figures import confusion_matrix, per_class_accuracy, plot_confusion_matrix  # noqa: E402
from data_pipeline.action_names import ACTION_NAMES  # noqa: E402


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
