"""Download, verify and extract an official dataset, then print the ``data.root`` to use.

    python scripts/prepare_data.py NAME --root DIR [--archive PATH ...] [--no-verify] [--no-local]

NAME is one of: cub, cars, cifar10, cifar100, sop, inshop, omniglot. Archives are downloaded into
DIR (an archive already there, or handed over with ``--archive``, is used instead), checked against
the published checksums and extracted under DIR. Without internet, or for datasets without a direct
link (SOP, In-Shop), it prints one line saying which file to fetch from where and where to put it.

Omniglot also comes as one local archive, ``omniglot.tar.gz`` (the flat one-folder-per-character
repack kept in ``../shared/data``): handed over with ``--archive`` or found in DIR or in
``../shared/data`` (beside the repository or the current folder), it is extracted instead of
downloading the two official zips; ``--no-local`` skips that search.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from metriclab.data.download import Archive, Source, prepare_dataset
from metriclab.data.readers import (
    read_cars,
    read_cifar10,
    read_cifar100,
    read_cub,
    read_inshop,
    read_omniglot,
    read_sop,
)
from metriclab.errors import ConfigError

#: The checkout this package sits in (``src/metriclab/data/prepare.py``), for ``../shared/data``.
REPO = Path(__file__).resolve().parents[3]
#: Where a local copy of a bundle archive is looked for (the shared data folder of this project).
SHARED = (REPO.parent / "shared" / "data", Path("..") / "shared" / "data")
OMNIGLOT = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python"
CARS = "http://imagenet.stanford.edu/internal/car196"

#: Official files per dataset. Checksums are the published ones; None where none is known.
SOURCES = {
    "cub": Source(
        "cub",
        (
            Archive(
                "CUB_200_2011.tgz",
                url="https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz?download=1",
                md5="97eceeb196236b17998738112f37df78",
            ),
        ),
        reader=read_cub,
        data_root="CUB_200_2011",
        manual="the archive is on https://www.vision.caltech.edu/datasets/cub_200_2011/",
    ),
    "cars": Source(
        "cars",
        (
            Archive(
                "car_ims.tgz", url=f"{CARS}/car_ims.tgz", md5="d5c8f0aa497503f355e17dc7886c3f14"
            ),
            Archive(
                "cars_annos.mat",
                url=f"{CARS}/cars_annos.mat",
                md5="b407c6086d669747186bd1d764ff9dbc",
                extract=False,
            ),
        ),
        reader=read_cars,
        manual=(
            "Stanford no longer serves Cars196 reliably: any mirror of these two files with the "
            "same md5 works"
        ),
    ),
    "cifar10": Source(
        "cifar10",
        (
            Archive(
                "cifar-10-python.tar.gz",
                url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                md5="c58f30108f718f92721af3b95e74349a",
            ),
        ),
        reader=read_cifar10,
        data_root="cifar-10-batches-py",
    ),
    "cifar100": Source(
        "cifar100",
        (
            Archive(
                "cifar-100-python.tar.gz",
                url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                md5="eb9058c3a382ffc7106e4002c42a8d85",
            ),
        ),
        reader=read_cifar100,
        data_root="cifar-100-python",
    ),
    "sop": Source(
        "sop",
        (Archive("Stanford_Online_Products.zip", md5="7f73d41a2f44250d4779881525aea32e"),),
        reader=read_sop,
        data_root="Stanford_Online_Products",
        manual="download Stanford_Online_Products.zip from the link on https://cvgl.stanford.edu/projects/lifted_struct/",
    ),
    "inshop": Source(
        "inshop",
        # No checksums are published for these files: they are not verified (a warning says so).
        (Archive("img.zip"), Archive("list_eval_partition.txt", extract=False)),
        reader=read_inshop,
        manual=(
            "download Img/img.zip and Eval/list_eval_partition.txt from the 'In-shop Clothes "
            "Retrieval Benchmark' Google Drive folder linked on "
            "https://mmlab.ie.cuhk.edu.hk/projects/DeepFashion/InShopRetrieval.html"
        ),
    ),
    "omniglot": Source(
        "omniglot",
        (
            Archive(
                "images_background.zip",
                url=f"{OMNIGLOT}/images_background.zip",
                md5="68d2efa1b9178cc56df9314c21c6e718",
            ),
            Archive(
                "images_evaluation.zip",
                url=f"{OMNIGLOT}/images_evaluation.zip",
                md5="6b91aef0f799c5bb55b94e3f2daec811",
            ),
        ),
        reader=read_omniglot,
        # ../shared/data/omniglot.tar.gz: omniglot/images_{background,evaluation}/<id>/CCCC_DD.png
        bundle=Archive(
            "omniglot.tar.gz",
            md5="cea34602fae85a74ec3efd073bfdd6c4",
            sha256="7053be2b19965209bca0262882cee507bf51778f37e335ca621feac9bb57a147",
        ),
        bundle_root="omniglot",
    ),
}


def main(argv: list[str] | None = None) -> int:
    """``scripts/prepare_data.py``: prepare one dataset; 0 done, 1 not prepared (one line)."""
    parser = argparse.ArgumentParser(
        prog="scripts/prepare_data.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("name", choices=sorted(SOURCES), help="the dataset (data=NAME)")
    parser.add_argument("--root", required=True, help="folder to download into and extract under")
    parser.add_argument(
        "--archive",
        action="append",
        default=[],
        help="a local copy of an official archive (repeatable)",
    )
    parser.add_argument(
        "--no-verify", action="store_true", help="skip the checksum check (re-packed mirrors)"
    )
    parser.add_argument(
        "--no-local",
        action="store_true",
        help="do not look for a local bundle archive in ../shared/data; fetch the official files",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    source = SOURCES[args.name]
    try:
        search = [] if args.no_local or not source.bundle else SHARED
        data_root = prepare_dataset(
            source,
            args.root,
            args.archive,
            verify=not args.no_verify,
            search=[folder / source.bundle.filename for folder in search],
        )
        source.reader(str(data_root))  # checks the layout and logs images / classes per split
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"data.root={data_root}")
    print(f"use it as: python train.py data={args.name} data.root={data_root}")
    return 0
