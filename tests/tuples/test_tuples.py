"""``metriclab.tuples``: pair masks, pair counts and the conversions between tuple kinds, each
against a loop-by-loop recount."""

from __future__ import annotations

import itertools

import pytest
import torch

from metriclab import tuples


def random_tuples(seed: int, size: int, rows: int, cols: int) -> tuple[torch.Tensor, ...]:
    """Four int64 ``[size]`` index tensors with repeats (``a1, p`` < rows/cols, ``a2, n`` too)."""
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randint(0, rows, (size,), generator=g),
        torch.randint(0, cols, (size,), generator=g),
        torch.randint(0, rows, (size,), generator=g),
        torch.randint(0, cols, (size,), generator=g),
    )


def counted(pairs: list[tuple[int, int]], rows: int, cols: int) -> list[list[int]]:
    """How often each ``(i, j)`` occurs in ``pairs``, as a nested list, one pair at a time."""
    out = [[0] * cols for _ in range(rows)]
    for i, j in pairs:
        out[i][j] += 1
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_pair_counts_of_pairs_count_every_occurrence(seed: int) -> None:
    a1, p, a2, n = random_tuples(seed, size=60, rows=5, cols=7)  # 60 pairs on 35 cells: repeats
    pos, neg = tuples.pair_counts((a1, p, a2, n), rows=5, cols=7, dtype=torch.float64)
    assert pos.tolist() == counted(list(zip(a1.tolist(), p.tolist(), strict=True)), 5, 7)
    assert neg.tolist() == counted(list(zip(a2.tolist(), n.tolist(), strict=True)), 5, 7)
    assert pos.dtype == torch.float64 and pos.sum() == 60 and neg.sum() == 60


def test_pair_counts_of_triplets_give_one_positive_and_one_negative_pair_each() -> None:
    a, p, _, n = random_tuples(2, size=40, rows=6, cols=6)
    pos, neg = tuples.pair_counts((a, p, n), rows=6, cols=6)
    triplets = list(zip(a.tolist(), p.tolist(), n.tolist(), strict=True))
    assert pos.tolist() == counted([(x, y) for x, y, _ in triplets], 6, 6)
    assert neg.tolist() == counted([(x, z) for x, _, z in triplets], 6, 6)


def test_pair_counts_of_nothing_are_zero() -> None:
    empty = tuples.empty_indices("cpu", 4)
    assert [t.dtype for t in empty] == [torch.long] * 4 and all(len(t) == 0 for t in empty)
    pos, neg = tuples.pair_counts(empty, rows=3, cols=4)
    assert pos.tolist() == neg.tolist() == [[0.0] * 4] * 3


def test_pairs_to_triplets_is_every_positive_negative_combination_sharing_an_anchor() -> None:
    a1, p, a2, n = random_tuples(3, size=12, rows=4, cols=9)
    got = tuples.pairs_to_triplets(a1, p, a2, n)
    want = [
        (x, y, z)
        for (x, y), (w, z) in itertools.product(
            zip(a1.tolist(), p.tolist(), strict=True), zip(a2.tolist(), n.tolist(), strict=True)
        )
        if x == w
    ]
    assert sorted(zip(*(t.tolist() for t in got), strict=True)) == sorted(want)
    assert len(want) > 12  # repeated anchors: more triplets than pairs, so the count is tested


def test_to_pairs_and_its_checks() -> None:
    a, p, _, n = random_tuples(4, size=5, rows=5, cols=5)
    assert [t.tolist() for t in tuples.to_pairs((a, p, n))] == [x.tolist() for x in (a, p, a, n)]
    four = random_tuples(5, size=5, rows=5, cols=5)
    assert tuples.to_pairs(four) == four
    with pytest.raises(ValueError, match="length 2"):
        tuples.to_pairs((a, p))
    with pytest.raises(ValueError, match=r"inconsistent lengths \[5, 5, 4\]"):
        tuples.to_pairs((a, p, n[:4]))
    with pytest.raises(ValueError, match=r"inconsistent lengths \[5, 4, 5, 5\]"):
        tuples.to_pairs((a, p[:4], a, n))
    tuples.check_indices_tuple((a, p, a[:2], n[:2]))  # pairs: each pair's two halves agree


def test_all_pairs_masks_against_a_double_loop() -> None:
    labels, ref = torch.tensor([0, 1, 0, 2, 1]), torch.tensor([1, 0, 3])
    pos, neg = tuples.all_pairs_masks(labels)
    for i, j in itertools.product(range(5), range(5)):
        same = bool(labels[i] == labels[j])
        assert bool(pos[i, j]) == (same and i != j), (i, j)
        assert bool(neg[i, j]) == (not same), (i, j)
    pos, neg = tuples.all_pairs_masks(labels, ref)
    assert pos.shape == (5, 3)
    for i, j in itertools.product(range(5), range(3)):
        assert bool(pos[i, j]) == bool(labels[i] == ref[j]) != bool(neg[i, j]), (i, j)
