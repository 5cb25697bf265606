"""Every number of every ``configs/loss`` and ``configs/miner`` YAML has a valid range: a value
outside it is refused in the constructor with one line that names the key as typed
(``loss.gamma=-1: ...; set loss.gamma=80``), and the value it suggests builds."""

from __future__ import annotations

import math
import re

import pytest
import yaml
from config_build import build
from config_helpers import CONFIGS

from metriclab.errors import ConfigError, user_mistake

#: ``(group, option, key, bad value)``: at least one out-of-range value for every number.
BAD = [
    ("loss", "arcface", "margin", "-0.1"),
    ("loss", "arcface", "margin", "28.6"),  # degrees (pytorch-metric-learning's unit)
    ("loss", "arcface", "scale", "0"),
    ("loss", "arcface", "lr_multiplier", "-1"),
    ("loss", "circle", "gamma", "-1"),
    ("loss", "circle", "gamma", "nan"),
    ("loss", "circle", "m", "0.6"),
    ("loss", "circle", "m", "-0.1"),
    ("loss", "contrastive", "pos_margin", "-0.1"),
    ("loss", "contrastive", "neg_margin", "-1"),
    ("loss", "cosface", "margin", "1.5"),
    ("loss", "cosface", "scale", "-64"),
    ("loss", "cosface", "lr_multiplier", "-1"),
    ("loss", "joint_ce", "metric_weight", "-0.1"),
    ("loss", "matryoshka", "dims", "[0,8]"),
    ("loss", "matryoshka", "weights", "[-1,1,1,1,1]"),
    ("loss", "multisim", "alpha", "0"),
    ("loss", "multisim", "beta", "-50"),
    ("loss", "multisim", "base", "2"),
    ("loss", "normsoftmax", "temperature", "0"),
    ("loss", "normsoftmax", "lr_multiplier", "-1"),
    ("loss", "npair", "l2_reg_weight", "-0.1"),
    ("loss", "proxy_anchor", "margin", "-0.1"),
    ("loss", "proxy_anchor", "alpha", "0"),
    ("loss", "proxy_anchor", "lr_multiplier", "-100"),
    ("loss", "proxy_nca", "softmax_scale", "0"),
    ("loss", "proxy_nca", "lr_multiplier", "-1"),
    ("loss", "triplet", "margin", "-0.2"),
    ("loss", "xbm", "memory_size", "0"),
    ("miner", "distance_weighted", "cutoff", "-0.5"),
    ("miner", "distance_weighted", "nonzero_loss_cutoff", "0.3"),
    ("miner", "multisim", "epsilon", "-0.1"),
    ("miner", "pair_margin", "pos_margin", "-0.2"),
    ("miner", "pair_margin", "neg_margin", "0"),
    ("miner", "semihard", "margin", "0"),
]
#: Numbers any value of which is valid (the miner's generator seed follows the run's ``seed``).
FREE = {("miner", "distance_weighted", "seed")}


def refusal(group: str, overrides: list[str]) -> str:
    """The one-line ConfigError building ``overrides`` raises (fails if it builds)."""
    with pytest.raises(Exception) as info:
        build(group, overrides)
    mistake = user_mistake(info.value)
    assert mistake is not None, repr(info.value)
    return str(mistake)


def numeric_keys(group: str, option: str) -> set[str]:
    """The keys of ``configs/<group>/<option>.yaml`` that hold a number or may hold a list."""
    data = yaml.safe_load((CONFIGS / group / f"{option}.yaml").read_text()) or {}
    return {
        k
        for k, v in data.items()
        if (isinstance(v, int | float) and not isinstance(v, bool))
        or k in ("dims", "weights")  # null in the YAML, a list of numbers when set
        or (isinstance(v, str) and v.startswith("${"))  # an interpolated number
    }


@pytest.mark.parametrize("group", ["loss", "miner"])
def test_every_number_of_every_config_has_a_bad_value_here(group):
    covered = {(g, o, k) for g, o, k, _ in BAD} | FREE
    for path in sorted((CONFIGS / group).glob("*.yaml")):
        for key in numeric_keys(group, path.stem):
            assert (group, path.stem, key) in covered, f"{group}={path.stem} {group}.{key}"


@pytest.mark.parametrize(("group", "option", "key", "bad"), BAD)
def test_out_of_range_value_is_refused_in_one_line_and_the_fix_builds(group, option, key, bad):
    given = f"{group}.{key}={bad}"
    message = refusal(group, [f"{group}={option}", given])
    assert "\n" not in message and message.startswith(f"{group}.{key}="), message
    assert "; set " in message, message
    fix = [t for t in message.rsplit("; set ", 1)[1].split() if "=" in t]
    assert fix and all(t.startswith(f"{group}.") for t in fix), message
    built = build(group, [f"{group}={option}", *fix])  # the suggestion is a valid value
    assert built is not None


def test_a_wrapped_loss_names_its_key_under_loss_metric():
    for wrapper in ("xbm", "joint_ce", "matryoshka"):
        overrides = [f"loss={wrapper}", "loss@loss.metric=circle", "loss.metric.gamma=-1"]
        message = refusal("loss", overrides)
        assert message.startswith("loss.metric.gamma=-1:"), message
        assert message.endswith("set loss.metric.gamma=80"), message


def test_the_default_values_are_all_valid():
    for group in ("loss", "miner"):
        for path in sorted((CONFIGS / group).glob("*.yaml")):
            if path.stem != "none":
                assert build(group, [f"{group}={path.stem}"]) is not None


@pytest.mark.parametrize(
    ("distance", "margins"),
    [("cosine", ["loss.pos_margin=1", "loss.neg_margin=0"]), ("euclidean", [])],
)
def test_contrastive_margins_follow_the_distance(distance, margins):
    overrides = ["loss=contrastive", f"loss/distance={distance}"]
    assert build("loss", [*overrides, *margins]) is not None
    bad = ["loss.pos_margin=0.5", "loss.neg_margin=0.9"] if distance == "cosine" else []
    bad = bad or ["loss.pos_margin=0.9", "loss.neg_margin=0.5"]
    message = refusal("loss", [*overrides, *bad])
    assert message.startswith("loss.neg_margin="), message


def test_check_range_wording():
    from metriclab.losses.ranges import check_range, positive

    assert positive("loss.gamma", 80, "γ", 80) == 80.0
    with pytest.raises(ConfigError, match=re.escape("loss.x=abc: x must be a finite number")):
        positive("loss.x", "abc", "x", 1)
    with pytest.raises(ConfigError, match=re.escape("must be in [0, 1.5708)")):
        check_range("loss.margin", 2.0, "m", 0.5, low=0.0, high=math.pi / 2, high_open=True)
