"""``embed``: one pass over a dataset, in order, as arrays or as tensors left on the device."""

from __future__ import annotations

import numpy as np
import torch

from metriclab.deployment.embedding import embed


class Items(torch.utils.data.Dataset):
    """``(image [3, 4, 4], label, index)`` items, as the datasets of metriclab give them."""

    def __init__(self, n: int) -> None:
        self.images = torch.randn(n, 3, 4, 4, generator=torch.Generator().manual_seed(0))
        self.labels = torch.arange(n) % 3

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i], int(self.labels[i]), i


def test_embed_is_the_model_over_every_item_in_order() -> None:
    data = Items(10)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 5)).eval()
    emb, labels = embed(model, data, batch_size=3, progress=False)  # 3 + 3 + 3 + 1
    assert isinstance(emb, np.ndarray) and emb.dtype == np.float32 and emb.shape == (10, 5)
    assert labels.dtype == np.int64 and labels.tolist() == data.labels.tolist()
    with torch.no_grad():
        np.testing.assert_allclose(emb, model(data.images).numpy(), rtol=1e-5, atol=1e-6)
    tensors, tensor_labels = embed(model, data, batch_size=4, progress=False, on_device=True)
    assert isinstance(tensors, torch.Tensor) and tensors.dtype == torch.float32
    assert tensor_labels.dtype == torch.int64 and tensors.device.type == "cpu"
    np.testing.assert_allclose(tensors.numpy(), emb, rtol=1e-5, atol=1e-6)
    assert tensor_labels.tolist() == labels.tolist()
