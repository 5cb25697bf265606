"""SmallCNN: output shapes on tiny and small images, channel widths, argument checks."""

from __future__ import annotations

import pytest
import torch

from metriclab.models import SmallCNN


@pytest.mark.parametrize(
    ("in_channels", "side", "out_side"),
    [(1, 8, 2), (1, 28, 7), (3, 32, 8), (1, 5, 2)],
)
def test_output_shape(in_channels: int, side: int, out_side: int) -> None:
    model = SmallCNN(in_channels=in_channels)
    out = model(torch.randn(3, in_channels, side, side))
    assert model.num_features == 256
    assert out.shape == (3, model.num_features, out_side, out_side)


def test_pooling_stops_at_two_by_two() -> None:
    model = SmallCNN(in_channels=1, width=8, depth=6)
    out = model(torch.randn(2, 1, 8, 8))
    assert out.shape == (2, model.num_features, 2, 2)


def test_one_block_has_no_pooling() -> None:
    model = SmallCNN(in_channels=1, width=4, depth=1)
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 4, 8, 8)


def test_channels_double_and_are_capped() -> None:
    model = SmallCNN(in_channels=1, width=128, depth=5)
    widths = [block[0].out_channels for block in model.blocks]
    assert widths == [128, 256, 512, 512, 512]
    assert model.num_features == 512


def test_gradients_reach_the_first_layer() -> None:
    model = SmallCNN(in_channels=1, width=8, depth=3)
    model(torch.randn(4, 1, 8, 8)).sum().backward()
    assert model.blocks[0][0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("kwargs", [{"in_channels": 0}, {"width": 0}, {"depth": 0}])
def test_rejects_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="SmallCNN"):
        SmallCNN(**kwargs)
