"""Image decoding: modes, bounding-box crops, one-line errors naming the file, opt-in skipping."""

from __future__ import annotations

import logging

import fixtures
import numpy as np
import pytest

from metriclab.data.base import Split
from metriclab.data.images import (
    SHOWN_BROKEN,
    UnreadableImageError,
    check_readable,
    drop_unreadable,
    find_unreadable,
    load_image,
    quick_reason,
)
from metriclab.errors import ConfigError


@pytest.fixture
def images(tmp_path):
    """Two good images, a truncated JPEG, a text file named .png and a missing path."""
    good = [fixtures.write_image(tmp_path / f"good{i}.jpg", size=(40, 30)) for i in range(2)]
    whole = (tmp_path / "good0.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "text.png").write_text("not an image")
    bad = [str(tmp_path / n) for n in ("truncated.jpg", "text.png", "missing.jpg")]
    return good, bad


def test_modes_and_bbox_crop(tmp_path):
    path = fixtures.write_image(tmp_path / "a.png", size=(40, 30), value=200)
    rgb = load_image(path)
    assert rgb.mode == "RGB" and rgb.size == (40, 30)
    assert rgb.getpixel((0, 0)) == (200, 100, 55)
    gray = load_image(path, mode="L")
    assert gray.mode == "L"
    assert load_image(path, bbox=(2.4, 3.0, 10.0, 20.0)).size == (10, 20)
    # a box reaching past the border is clipped to the image
    assert load_image(path, bbox=np.array([30.0, 25.0, 50.0, 50.0])).size == (10, 5)


def test_binary_png_becomes_gray(tmp_path):
    path = fixtures.write_image(tmp_path / "b.png", size=(105, 105), value=1, mode="1")
    image = load_image(path, mode="L")
    assert image.mode == "L" and np.asarray(image).max() == 255


def test_unreadable_image_names_the_file_in_one_line(images):
    _, bad = images
    for path in bad:
        with pytest.raises(UnreadableImageError) as info:
            load_image(path)
        message = str(info.value)
        assert isinstance(info.value, ConfigError)
        assert "\n" not in message and path in message and "skip_unreadable" in message


def test_find_and_drop_unreadable(images, caplog):
    good, bad = images
    paths = [good[0], bad[0], good[1], bad[1], bad[2]]
    found = find_unreadable(paths, num_workers=2)
    assert [i for i, _ in found] == [1, 3, 4]
    assert bad[0] in found[0][1]
    split = Split(items=paths, labels=np.arange(5))
    with caplog.at_level(logging.WARNING, logger="metriclab.data"):
        kept = drop_unreadable(split, name="cub")
    assert kept.items == [good[0], good[1]] and kept.labels.tolist() == [0, 2]
    assert any("cub: skipped 3 unreadable image(s) of 5" in m for m in caplog.messages)
    arrays = Split(items=np.zeros((2, 4, 4, 3), dtype=np.uint8), labels=[0, 1])
    assert drop_unreadable(arrays) is arrays
    assert drop_unreadable(Split(items=good, labels=[0, 1])).items == good


def test_quick_check_reads_headers_and_jpeg_end_markers(images, tmp_path):
    good, bad = images
    (tmp_path / "empty.jpg").write_bytes(b"")
    fixtures.write_image(tmp_path / "whole.png", size=(40, 30))
    whole_png = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(whole_png[: len(whole_png) - 20])  # IEND chunk gone
    extra = tmp_path / "trailing.jpg"  # bytes after the end marker: legal, still decodes
    extra.write_bytes((tmp_path / "good0.jpg").read_bytes() + b"\0" * 16)
    for path in [*good, str(tmp_path / "whole.png"), str(extra)]:
        assert quick_reason(path) is None, path
    reasons = {p: quick_reason(p) for p in [*bad, str(tmp_path / "empty.jpg")]}
    reasons[str(tmp_path / "cut.png")] = quick_reason(str(tmp_path / "cut.png"))
    assert all(r for r in reasons.values()), reasons
    assert reasons[str(tmp_path / "empty.jpg")] == "empty file (0 bytes)"
    assert "truncated" in reasons[bad[0]].lower() and bad[0] not in reasons[bad[0]]


def broken_splits(tmp_path, broken: int) -> dict[str, Split]:
    """A train and a test split of good PNGs with ``broken`` 0-byte files among them."""
    paths = [fixtures.write_image(tmp_path / f"{i:02d}.png", size=(8, 8)) for i in range(12)]
    for path in paths[1 : 1 + broken]:
        open(path, "wb").close()
    return {
        "train": Split(items=paths[:8], labels=np.arange(8) // 2),
        "test": Split(items=paths[8:], labels=np.arange(4) // 2 + 10),
        "memory": Split(items=np.zeros((2, 4, 4), dtype=np.uint8), labels=[0, 1]),
    }


def test_every_broken_file_is_counted_in_one_line_before_training(tmp_path):
    splits = broken_splits(tmp_path, broken=5)
    with pytest.raises(UnreadableImageError) as info:
        check_readable(splits, "data=folder")
    message = str(info.value)
    assert "\n" not in message and "cannot read 5 of the 12 images of data=folder" in message
    named = [p for p in splits["train"].items[1:6] if p in message]
    assert len(named) == SHOWN_BROKEN and "and 2 more" in message, message
    assert "data.skip_unreadable=true" in message
    one = broken_splits(tmp_path / "one", broken=1)
    with pytest.raises(UnreadableImageError, match=r"^cannot read image .*01\.png: empty file"):
        check_readable(one, "data=folder")


def test_skip_unreadable_drops_them_and_warns_with_the_count(tmp_path, caplog):
    splits = broken_splits(tmp_path, broken=5)
    with caplog.at_level(logging.WARNING, logger="metriclab.data"):
        kept = check_readable(splits, "data=folder", skip=True)
    assert [len(kept[k]) for k in ("train", "test", "memory")] == [3, 4, 2]
    assert kept["test"] is splits["test"] and kept["memory"] is splits["memory"]
    assert kept["train"].labels.tolist() == [0, 3, 3]
    (warning,) = caplog.messages
    assert warning.startswith("data=folder: skipped 5 unreadable image(s) of 12"), warning
    assert check_readable(broken_splits(tmp_path / "ok", broken=0))["train"].items  # all good
