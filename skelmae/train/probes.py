"""Frozen-feature scores: weighted kNN and a linear probe, on features gathered from all workers."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, top_k_accuracy_score


def knn_accuracy(
    train_feats: torch.Tensor,
    train_labels: torch.Tensor,
    test_feats: torch.Tensor,
    test_labels: torch.Tensor,
    k: int = 20,
    temperature: float = 0.07,
) -> float:
    """Top-1 accuracy of a cosine-similarity kNN with exp(sim / T) vote weights (InstDisc style).

    train_feats: [N, D], test_feats: [M, D]; labels int64.
    """
    if len(train_feats) == 0 or len(test_feats) == 0:
        raise ValueError("kNN needs non-empty train and test features")
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    train = F.normalize(train_feats.float(), dim=1)
    test = F.normalize(test_feats.float(), dim=1)
    k = min(k, len(train))
    correct = 0
    for chunk in range(0, len(test), 1024):
        sim = test[chunk : chunk + 1024] @ train.T  # [m, N]
        top_sim, top_idx = sim.topk(k, dim=1)
        votes = torch.zeros(len(top_idx), num_classes)
        votes.scatter_add_(1, train_labels[top_idx], (top_sim / temperature).exp())
        correct += (votes.argmax(1) == test_labels[chunk : chunk + 1024]).sum().item()
    return correct / len(test)


def train_linear_probe(
    train_feats: torch.Tensor,
    train_labels: torch.Tensor,
    num_classes: int,
    epochs: int = 200,
    lr: float = 0.01,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> torch.nn.Module:
    """A linear classifier on standardised frozen features, trained full batch with AdamW.

    Returns nn.Sequential(standardise, linear) so it applies to raw features directly.
    """
    g = torch.Generator().manual_seed(seed)
    x = train_feats.float()
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    linear = torch.nn.Linear(x.shape[1], num_classes)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(linear.weight.shape, generator=g) * 0.01)
        linear.bias.zero_()
    opt = torch.optim.AdamW(linear.parameters(), lr=lr, weight_decay=weight_decay)
    xs = (x - mean) / std
    for _ in range(epochs):
        opt.zero_grad()
        F.cross_entropy(linear(xs), train_labels).backward()
        opt.step()
    return torch.nn.Sequential(Standardise(mean, std), linear)


class Standardise(torch.nn.Module):
    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def topk_accuracy(logits: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    """Fraction of rows whose label is among the k highest logits (all classes: 1.0)."""
    num_classes = logits.shape[1]
    if k >= num_classes:
        return 1.0
    scores, y = logits.detach().float().cpu().numpy(), labels.detach().cpu().numpy()
    if k == 1:  # sklearn's top-k reads two columns as a binary problem; top-1 is plain accuracy
        return float(accuracy_score(y, scores.argmax(1)))
    return float(top_k_accuracy_score(y, scores, k=k, labels=np.arange(num_classes)))
