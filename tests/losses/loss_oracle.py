"""Shared helpers of the loss tests: random batches and the comparison with an oracle."""

from __future__ import annotations

import logging

import torch
from torch import Tensor

logging.getLogger("PML").setLevel(logging.ERROR)

RTOL = 1e-4  # fp32, as the issue asks
BATCH_SIZES = (32, 128)


def random_batch(
    batch: int, dim: int = 64, per_class: int = 4, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """``(embeddings [B, dim] fp32, labels [B])`` with ``per_class`` items per class, shuffled."""
    gen = torch.Generator().manual_seed(seed)
    embeddings = torch.randn(batch, dim, generator=gen)
    labels = (torch.arange(batch) // per_class)[torch.randperm(batch, generator=gen)]
    return embeddings, labels


def loss_and_grads(loss_fn, embeddings: Tensor, labels: Tensor, indices=None) -> tuple[Tensor, ...]:
    """``(loss value, d loss / d embeddings, d loss / d parameters...)`` of one call."""
    x = embeddings.clone().requires_grad_(True)
    for p in loss_fn.parameters():
        p.grad = None
    value = loss_fn(x, labels) if indices is None else loss_fn(x, labels, indices)
    value.backward()
    params = [p.grad for p in loss_fn.parameters() if p.grad is not None]
    return (value.detach(), x.grad, *params)


def assert_close(actual: Tensor, expected: Tensor, what: str = "") -> None:
    """Equal to ``RTOL``; entries near zero compared against the tensor's scale."""
    atol = 1e-6 * max(1.0, float(expected.abs().max())) if expected.numel() else 0.0
    torch.testing.assert_close(actual, expected, rtol=RTOL, atol=atol, msg=lambda m: f"{what}: {m}")


def assert_same(
    ours, theirs, embeddings, labels, indices=None, transpose_params=False, theirs_indices=None
) -> Tensor:
    """Loss value and every gradient of ``ours`` equal those of ``theirs``; returns the value.

    ``indices`` go to both losses unless ``theirs_indices`` (e.g. PML's miner's) are given.
    """
    mine = loss_and_grads(ours, embeddings, labels, indices)
    ref = loss_and_grads(
        theirs, embeddings, labels, indices if theirs_indices is None else theirs_indices
    )
    assert len(mine) == len(ref), "different numbers of gradients"
    assert_close(mine[0], ref[0].to(mine[0].dtype), "loss value")
    assert_close(mine[1], ref[1], "embedding gradient")
    for g_mine, g_ref in zip(mine[2:], ref[2:], strict=True):
        assert_close(g_mine, g_ref.t() if transpose_params else g_ref, "parameter gradient")
    assert mine[1].abs().max() > 0, "the gradient is all zero: the comparison proves nothing"
    return mine[0]


#: Classes and embedding size of the proxy/classifier loss comparisons.
CLASSES, DIM = 40, 64


def copy_proxies(ours, theirs):
    """PML's proxy loss ``theirs`` with our ``proxies [C, D]`` (same layout)."""
    theirs.proxies.data.copy_(ours.proxies.data)
    return theirs


def copy_class_weights(ours, theirs):
    """PML's classifier loss ``theirs`` (weights ``W [D, C]``) with our ``proxies [C, D]``."""
    theirs.W.data.copy_(ours.proxies.data.t())
    return theirs


def check_proxies(cls, miner_error: str, size_error: str, **options) -> None:
    """A loss with class proxies: ``proxies [C, D]`` learnable and in the state dict, refuses a
    miner's tuples and labels or embeddings of the wrong size."""
    import pytest
    import torch

    loss = cls(num_classes=7, embedding_size=5, **options)
    assert loss.proxies.shape == (7, 5) and loss.proxies.requires_grad
    assert "proxies" in loss.state_dict() and cls.accepts_miner is False
    assert loss.lr_multiplier == options.get("lr_multiplier", loss.lr_multiplier)
    x, y = random_batch(14, dim=5, per_class=2)
    with pytest.raises(ValueError, match=miner_error):
        loss(x, y, (torch.tensor([0]), torch.tensor([1]), torch.tensor([2])))
    with pytest.raises(ValueError, match=size_error):
        loss(x, y + 7) if size_error == "num_classes" else loss(torch.randn(14, 6), y)
