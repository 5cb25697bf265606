"""EmbeddingModel: SmallCNN + EmbeddingHead end to end on 8x8 grayscale digits."""

from __future__ import annotations

import torch

from metriclab.models import EmbeddingHead, EmbeddingModel, SmallCNN


def build() -> EmbeddingModel:
    backbone = SmallCNN(in_channels=1, width=16, depth=3)
    head = EmbeddingHead(backbone.num_features, embedding_size=32, batch_norm=True)
    return EmbeddingModel(backbone, head)


def test_embeds_digits_into_unit_vectors() -> None:
    model = build()
    assert model.embedding_size == 32
    out = model(torch.randn(6, 1, 8, 8))
    assert out.shape == (6, 32)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(6))


def test_param_groups_split_every_parameter_once() -> None:
    model = build()
    groups = model.param_groups()
    assert set(groups) == {"backbone", "head"}
    ids = [id(p) for group in groups.values() for p in group]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in model.parameters()}
    assert {id(p) for p in groups["head"]} == {id(p) for p in model.head.parameters()}


def test_frozen_parameters_are_left_out_of_the_groups() -> None:
    model = build()
    model.backbone.requires_grad_(False)
    assert model.param_groups()["backbone"] == []


def test_a_few_steps_pull_same_class_embeddings_together() -> None:
    torch.manual_seed(0)
    model = build()
    x = torch.randn(8, 1, 8, 8)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    same = labels[:, None] == labels[None, :]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    def loss() -> torch.Tensor:
        sim = model(x) @ model(x).T
        return (sim[~same].mean() - sim[same].mean()).clamp(min=-2)

    start = loss().item()
    for _ in range(10):
        optimizer.zero_grad()
        value = loss()
        value.backward()
        optimizer.step()
    assert loss().item() < start
