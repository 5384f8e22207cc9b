import torch

from skelmae.train.probes import knn_accuracy, topk_accuracy, train_linear_probe


def _clusters(n, d=8, k=3, seed=0, noise=0.2):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(k, d, generator=torch.Generator().manual_seed(99)) * 3
    y = torch.arange(n) % k
    return centres[y] + noise * torch.randn(n, d, generator=g), y


def test_knn_separable_and_chance():
    xf, yf = _clusters(60)
    xq, yq = _clusters(30, seed=1)
    assert knn_accuracy(xf, yf, xq, yq, k=5) == 1.0
    shuffled = yf[torch.randperm(60, generator=torch.Generator().manual_seed(0))]
    assert knn_accuracy(xf, shuffled, xq, yq, k=5) < 0.8


def test_linear_probe_learns():
    xf, yf = _clusters(90, noise=1.0)
    xq, yq = _clusters(45, seed=2, noise=1.0)
    probe = train_linear_probe(xf, yf, num_classes=5, epochs=150, lr=0.05)
    logits = probe(xq)
    assert logits.shape == (45, 5)
    assert topk_accuracy(logits, yq, 1) > 0.9
    assert topk_accuracy(logits, yq, 5) == 1.0
