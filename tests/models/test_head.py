"""EmbeddingHead and its pooling: shapes, unit norm, GeM against average pooling, errors."""

from __future__ import annotations

import pytest
import torch

from metriclab.models import EmbeddingHead, GeneralizedMeanPooling, GlobalPooling
from metriclab.models.pooling import POOLINGS

B, C, E = 4, 16, 8


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("shape", [(B, C, 3, 5), (B, C)])
def test_unit_norm_embeddings(pooling: str, batch_norm: bool, shape: tuple) -> None:
    head = EmbeddingHead(C, embedding_size=E, pooling=pooling, batch_norm=batch_norm)
    assert head.embedding_size == E
    features = torch.randn(*shape).relu().requires_grad_(True)
    out = head(features)
    assert out.shape == (B, E)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(B))
    out[:, 0].sum().backward()
    assert features.grad is not None and torch.isfinite(features.grad).all()


def test_without_normalisation_the_norm_is_free() -> None:
    head = EmbeddingHead(C, embedding_size=E, normalize=False)
    out = head(torch.randn(B, C, 2, 2))
    assert not torch.allclose(out.norm(dim=1), torch.ones(B))


def test_gem_with_p_one_is_average_pooling() -> None:
    x = torch.rand(B, C, 4, 6) + 0.1
    torch.testing.assert_close(GeneralizedMeanPooling(p=1.0)(x), x.mean(dim=(2, 3)))
    gem, avg = EmbeddingHead(C, E, pooling="gem", gem_p=1.0), EmbeddingHead(C, E, pooling="avg")
    avg.load_state_dict(gem.state_dict())
    torch.testing.assert_close(gem(x), avg(x))


def test_gem_lies_between_average_and_max() -> None:
    x = torch.rand(B, C, 4, 4) + 0.1
    gem = GeneralizedMeanPooling(p=3.0)(x)
    assert (gem >= x.mean(dim=(2, 3)) - 1e-6).all()
    assert (gem <= x.amax(dim=(2, 3)) + 1e-6).all()


def test_avgmax_is_the_sum_of_avg_and_max() -> None:
    x = torch.randn(B, C, 3, 3)
    expected = x.mean(dim=(2, 3)) + x.amax(dim=(2, 3))
    torch.testing.assert_close(GlobalPooling("avgmax")(x), expected)


def test_unknown_pooling_names_the_choices() -> None:
    with pytest.raises(ValueError, match="avg, max, gem, avgmax"):
        EmbeddingHead(C, pooling="mean")


def test_wrong_channel_count_is_reported() -> None:
    with pytest.raises(ValueError, match="in_features=backbone.num_features"):
        EmbeddingHead(C, E)(torch.randn(B, C + 1, 2, 2))


def test_three_dimensional_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="expects"):
        GlobalPooling("avg")(torch.randn(B, 5, C))


def test_identity_init_embeds_with_the_pooled_features() -> None:
    head = EmbeddingHead(C, embedding_size=C, pooling="avg", identity_init=True)
    features = torch.randn(B, C, 3, 3)
    expected = torch.nn.functional.normalize(features.mean(dim=(2, 3)), dim=1)
    torch.testing.assert_close(head(features), expected)


def test_identity_init_needs_the_backbone_width() -> None:
    from metriclab.errors import ConfigError

    with pytest.raises(ConfigError, match=f"head.embedding_size={C}"):
        EmbeddingHead(C, embedding_size=E, identity_init=True)


@pytest.mark.parametrize(
    ("settings", "refused"),
    [
        ({"embedding_size": 0}, "head.embedding_size=0: "),
        ({"embedding_size": -8}, "head.embedding_size=-8: "),
        ({"pooling": "mean"}, "head.pooling=mean: "),
        ({"pooling": "gem", "gem_p": 0.0}, "head.gem_p=0.0: "),
        ({"pooling": "gem", "gem_p": -3}, "head.gem_p=-3: "),
    ],
)
def test_a_bad_head_setting_is_one_config_error_line(settings: dict, refused: str) -> None:
    from metriclab.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        EmbeddingHead(C, **settings)
    message = str(info.value)
    assert message.startswith(refused) and "\n" not in message and "; " in message, message
    EmbeddingHead(C, pooling="avg", gem_p=0.0)  # gem_p is not used by avg pooling: no error


@pytest.mark.slow
def test_zero_embedding_size_is_refused_by_train_py(tmp_path) -> None:
    from config_helpers import TINY, one_error_line, run_train

    result = run_train(*TINY, "head.embedding_size=0", cwd=tmp_path)
    error = one_error_line(result)
    assert error == result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: head.embedding_size=0: ") and "head.embedding_size=128" in error
    assert not [p for p in tmp_path.rglob("*") if p.is_file()], "a refused run left files"
