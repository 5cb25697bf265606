"""Builders of tiny datasets in the exact official on-disk formats, for the reader tests.

Each ``make_*`` writes under ``root`` and returns the folder to pass as ``data.root``. Images are
a few pixels, so a whole fixture takes milliseconds; file names, separators, 1-based ids, ``.mat``
struct arrays and CIFAR pickle keys follow the official releases.
"""

from __future__ import annotations

import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image


def write_image(
    path: Path, size: tuple[int, int] = (12, 10), value: int = 128, mode: str = "RGB"
) -> str:
    """A solid image of ``size`` (width, height); the format follows the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode != "RGB" else (value, value // 2, 255 - value)).save(path)
    return str(path)


def make_cub(root: Path, classes=(1, 2, 3, 100, 101, 102, 200), per_class: int = 2) -> Path:
    """``CUB_200_2011/`` with all 200 classes in ``classes.txt`` and images for ``classes``."""
    base = root / "CUB_200_2011"
    base.mkdir(parents=True)
    names = {c: f"{c:03d}.Bird_{c}" for c in range(1, 201)}
    (base / "classes.txt").write_text("".join(f"{c} {n}\n" for c, n in names.items()))
    images, labels, boxes, split = [], [], [], []
    image_id = 0
    for c in classes:
        for k in range(per_class):
            image_id += 1
            rel = f"{names[c]}/Bird_{c}_{k:04d}_{image_id}.jpg"
            write_image(base / "images" / rel, size=(40, 30))
            images.append(f"{image_id} {rel}\n")
            labels.append(f"{image_id} {c}\n")
            boxes.append(f"{image_id} {5.0 + k} 4.0 20.0 {10.0 + k}\n")
            split.append(f"{image_id} {k % 2}\n")
    for name, lines in [
        ("images.txt", images),
        ("image_class_labels.txt", labels),
        ("bounding_boxes.txt", boxes),
        ("train_test_split.txt", split),
    ]:
        (base / name).write_text("".join(lines))
    return base


def _struct_array(records: list[dict]) -> np.ndarray:
    """A MATLAB struct array ``1 x N`` as the official files hold it: strings ``(1,)``, numbers
    ``(1, 1)``."""
    fields = list(records[0])
    array = np.zeros((1, len(records)), dtype=[(f, "O") for f in fields])
    for i, record in enumerate(records):
        array[0, i] = tuple(
            np.array([v]) if isinstance(v, str) else np.array([[v]], dtype=np.uint16)
            for v in record.values()
        )
    return array


def _car_box(i: int) -> dict:
    return {"bbox_x1": 3 + i % 2, "bbox_y1": 2, "bbox_x2": 30, "bbox_y2": 20 + i % 3}


def make_cars_annos(root: Path, classes=(1, 2, 98, 99, 100, 196), per_class: int = 2) -> Path:
    """``cars_annos.mat`` + ``car_ims/NNNNNN.jpg`` (the metric-learning release)."""
    root.mkdir(parents=True, exist_ok=True)
    records = []
    for i, c in enumerate(np.repeat(classes, per_class)):
        rel = f"car_ims/{i + 1:06d}.jpg"
        write_image(root / rel, size=(40, 30))
        records.append({"relative_im_path": rel, **_car_box(i), "class": int(c), "test": i % 2})
    class_names = np.empty((1, 196), dtype=object)
    class_names[0, :] = [f"Car {c}" for c in range(1, 197)]
    scipy.io.savemat(
        root / "cars_annos.mat", {"annotations": _struct_array(records), "class_names": class_names}
    )
    return root


def make_cars_devkit(
    root: Path, classes=(1, 2, 98, 99, 100, 196), test_annos_in_devkit: bool = False
) -> Path:
    """The devkit release: ``devkit/cars_train_annos.mat`` + ``cars_train/``, test labels in
    ``cars_test_annos_withlabels.mat`` + ``cars_test/``; one train and one test image per class."""
    (root / "devkit").mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        records = []
        for i, c in enumerate(classes):
            fname = f"{i + 1:05d}.jpg"
            write_image(root / f"cars_{split}" / fname, size=(40, 30))
            records.append({**_car_box(i), "class": int(c), "fname": fname})
        name = (
            "devkit/cars_train_annos.mat" if split == "train" else "cars_test_annos_withlabels.mat"
        )
        if split == "test" and test_annos_in_devkit:
            name = "devkit/" + name
        scipy.io.savemat(root / name, {"annotations": _struct_array(records)})
    return root


def _cifar_batch(path: Path, labels: list[int], label_key: bytes, seed: int) -> None:
    """One official pickle; image ``i`` has red = its label, green = 7, blue = index ``i``."""
    n = len(labels)
    planes = np.zeros((n, 3, 1024), dtype=np.uint8)
    planes[:, 0] = np.array(labels)[:, None]
    planes[:, 1] = 7
    planes[:, 2] = np.arange(n)[:, None] + seed
    batch = {
        b"batch_label": b"fixture batch",
        label_key: labels,
        b"data": planes.reshape(n, 3072),
        b"filenames": [f"img_{seed}_{i}.png".encode() for i in range(n)],
    }
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)


def make_cifar10(root: Path, per_class_per_batch: int = 1) -> Path:
    """``cifar-10-batches-py/`` with 5 train batches and a test batch, every class in each."""
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    labels = list(range(10)) * per_class_per_batch
    for i in range(1, 6):
        _cifar_batch(base / f"data_batch_{i}", labels, b"labels", seed=10 * i)
    _cifar_batch(base / "test_batch", labels, b"labels", seed=100)
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [f"class{i}".encode() for i in range(10)]}, f, protocol=2)
    return base


def make_cifar100(root: Path) -> Path:
    """``cifar-100-python/`` with ``train`` (2 images per class) and ``test`` (1 per class)."""
    base = root / "cifar-100-python"
    base.mkdir(parents=True)
    _cifar_batch(base / "train", list(range(100)) * 2, b"fine_labels", seed=0)
    _cifar_batch(base / "test", list(range(100)), b"fine_labels", seed=200)
    return base


def make_sop(
    root: Path, train_classes=(1, 2, 3), test_classes=(11319, 11320), per_class: int = 2
) -> Path:
    """``Stanford_Online_Products/`` with ``Ebay_train.txt`` / ``Ebay_test.txt`` and images."""
    base = root / "Stanford_Online_Products"
    for split, classes in (("train", train_classes), ("test", test_classes)):
        lines = ["image_id class_id super_class_id path\n"]
        for i, c in enumerate(np.repeat(classes, per_class)):
            rel = f"bicycle_final/{111085122871 + int(c)}_{i % per_class}.JPG"
            write_image(base / rel, size=(16, 16))
            lines.append(f"{i + 1} {c} 1 {rel}\n")
        (base / f"Ebay_{split}.txt").write_text("".join(lines))
    return base


def make_inshop(root: Path, nested: bool = True) -> Path:
    """The In-Shop benchmark: 3 train items (2 images each) and 2 test items with 1 query and 2
    gallery images each. ``nested``: ``Eval/`` + ``Img/img/``, else both at the root."""
    rows = [(item, "train") for item in (1, 2, 3) for _ in range(2)]
    rows += [(item, status) for item in (7, 9) for status in ("query", "gallery", "gallery")]
    image_root = root / "Img" if nested else root
    lines = []
    for i, (item, status) in enumerate(rows):
        rel = f"img/WOMEN/Dresses/id_{item:08d}/{i:02d}_1_front.jpg"
        write_image(image_root / rel, size=(16, 20))
        lines.append(f"{rel:<60}id_{item:08d}          {status}\n")
    table = (
        root / "Eval" / "list_eval_partition.txt" if nested else root / "list_eval_partition.txt"
    )
    table.parent.mkdir(parents=True, exist_ok=True)
    table.write_text(f"{len(rows)}\nimage_name item_id evaluation_status\n" + "".join(lines))
    return root


def make_omniglot_official(root: Path, drawers: int = 2) -> Path:
    """The official layout: ``images_background/<alphabet>/characterNN/CCCC_DD.png`` (2 alphabets
    of 2 and 1 characters) and ``images_evaluation`` (1 alphabet of 2 characters)."""
    sets = {
        "images_background": {"Alphabet_of_the_Magi": 2, "Latin": 1},
        "images_evaluation": {"Atlantean": 2},
    }
    char_id = 0
    for folder, alphabets in sets.items():
        for alphabet, characters in alphabets.items():
            for c in range(1, characters + 1):
                char_id += 1
                for d in range(1, drawers + 1):
                    path = (
                        root
                        / folder
                        / alphabet
                        / f"character{c:02d}"
                        / f"{char_id:04d}_{d:02d}.png"
                    )
                    write_image(path, size=(105, 105), value=1, mode="1")
    return root


def make_class_folders(root: Path, counts: dict[str, int], suffix: str = ".png") -> Path:
    """``root/<class>/<i><suffix>`` with ``counts[class]`` images per class."""
    for name, n in counts.items():
        for i in range(n):
            write_image(root / name / f"{i}{suffix}", size=(8, 8))
    return root


def make_archive(source: Path, archive: Path, arcname: str | None = None) -> Path:
    """Pack the folder ``source`` as ``arcname`` (default its name) into a zip or tar.gz archive,
    chosen by the suffix of ``archive``."""
    arcname = arcname or source.name
    archive.parent.mkdir(parents=True, exist_ok=True)
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for path in sorted(source.rglob("*")):
                zf.write(path, f"{arcname}/{path.relative_to(source)}")
    else:
        with tarfile.open(archive, "w:gz") as tf:
            tf.add(source, arcname=arcname)
    return archive


def make_omniglot_flat(root: Path, drawers: int = 2) -> Path:
    """The flat one-folder-per-character layout of ``../shared/data/omniglot.tar.gz``:
    ``omniglot/images_background/0001/0001_01.png`` (characters 1-3) and
    ``omniglot/images_evaluation/0965/0965_01.png`` (characters 965-966)."""
    for folder, ids in (("images_background", (1, 2, 3)), ("images_evaluation", (965, 966))):
        for c in ids:
            for d in range(1, drawers + 1):
                path = root / "omniglot" / folder / f"{c:04d}" / f"{c:04d}_{d:02d}.png"
                write_image(path, size=(105, 105), value=1, mode="1")
    return root / "omniglot"


def assert_one_line_error(exc: Exception, *parts: str) -> None:
    """``exc`` is one line holding every one of ``parts``."""
    message = str(exc)
    assert "\n" not in message
    for part in parts:
        assert part in message, (part, message)
