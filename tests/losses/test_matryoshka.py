"""``loss=matryoshka``: the weighted sum of the inner loss on L2-normalised prefixes."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from config_helpers import TINY, one_error_line, run_train
from eval_reference import reference_metrics

from metriclab.errors import ConfigError
from metriclab.losses import CircleLoss, MatryoshkaLoss, MultiSimilarityLoss, ProxyAnchorLoss
from metriclab.miners import MultiSimilarityMiner


def reference_gradient(inner, dims, weights, x, labels, indices=None):
    """Sum over prefixes of ``w * d inner(normalize(x[:, :d])) / dx``, one prefix at a time."""
    total = torch.zeros_like(x)
    for d, w, loss in zip(dims, weights, inner, strict=True):
        leaf = x.detach().clone().requires_grad_(True)
        args = (F.normalize(leaf[:, :d], dim=1), labels)
        value = loss(*args) if indices is None else loss(*args, indices)
        (grad,) = torch.autograd.grad(w * value, leaf)
        total += grad
    return total


@pytest.mark.parametrize("inner", ["circle", "multisim_mined", "proxy_anchor"])
def test_gradient_is_the_weighted_sum_over_prefixes(inner: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(24, 16, dtype=torch.float64, requires_grad=True)
    labels = torch.arange(24) % 4
    dims, weights = [4, 8, 16], [0.5, 1.0, 2.0]
    indices = None
    if inner == "proxy_anchor":
        factory = functools.partial(ProxyAnchorLoss, num_classes=4)
        loss = MatryoshkaLoss(factory, 4, 16, dims=[4, 8], weights=weights)
        inner_losses = list(loss.losses)  # proxies of 4, 8 and 16 dimensions
        assert [lo.proxies.shape[1] for lo in inner_losses] == dims
        loss, inner_losses = loss.double(), [lo.double() for lo in inner_losses]
    else:
        metric = CircleLoss() if inner == "circle" else MultiSimilarityLoss()
        loss = MatryoshkaLoss(metric, 4, 16, dims=dims, weights=weights)
        inner_losses = [metric] * 3
        if inner == "multisim_mined":
            indices = MultiSimilarityMiner(epsilon=0.5)(F.normalize(x.detach(), dim=1), labels)
    value = loss(x, labels) if indices is None else loss(x, labels, indices)
    value.backward()
    expected = reference_gradient(inner_losses, dims, weights, x, labels, indices)
    assert torch.allclose(x.grad, expected, atol=1e-10), (x.grad - expected).abs().max()


def test_default_dims_halve_the_embedding_and_bad_dims_are_refused() -> None:
    assert MatryoshkaLoss(CircleLoss(), 4, 512).dims == [32, 64, 128, 256, 512]
    assert MatryoshkaLoss(CircleLoss(), 4, 128, dims=[16, 64]).dims == [16, 64, 128]
    for dims in ([64, 32], [0, 8], [8, 256]):
        with pytest.raises(ConfigError, match="loss.dims"):
            MatryoshkaLoss(CircleLoss(), 4, 128, dims=dims)
    with pytest.raises(ConfigError, match="loss.weights"):
        MatryoshkaLoss(CircleLoss(), 4, 128, dims=[16, 64], weights=[1.0])


@pytest.mark.parametrize(
    "overrides",
    [("loss@loss.metric=proxy_anchor",), ("loss@loss.metric=multisim", "miner=multisim")],
    ids=["proxies", "miner"],
)
def test_cli_run_reports_every_prefix(tmp_path, overrides) -> None:
    run_dir = tmp_path / "run"
    result = run_train(
        *TINY,
        "loss=matryoshka",
        "loss.dims=[8,16]",
        *overrides,
        "logger=csv",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    # each prefix's metrics, recomputed by a loop from the saved test embeddings [N, 32]
    emb, labels = np.load(run_dir / "test_embeddings.npy"), np.load(run_dir / "test_labels.npy")
    for d, suffix in ((8, "@8"), (16, "@16"), (32, "")):
        want = reference_metrics(emb[:, :d], labels, ks=(1,))
        for key in ("recall@1", "map@r", "r_precision"):
            assert metrics[f"test/{key}{suffix}"] == pytest.approx(want[key], abs=1e-6), (d, key)
    assert "test/recall@1@32" not in metrics  # 32 = head.embedding_size: the plain keys


def test_cli_refuses_prefixes_longer_than_the_embedding(tmp_path) -> None:
    result = run_train(
        *TINY,
        "loss=matryoshka",
        "loss.dims=[16,64]",
        f"hydra.run.dir={tmp_path / 'r'}",
        cwd=tmp_path,
    )
    line = one_error_line(result)
    assert "loss.dims=[16, 64]" in line and "32" in line, line
