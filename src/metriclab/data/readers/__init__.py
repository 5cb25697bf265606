"""Dataset readers: ``read_<name>(root, **options) -> dict[str, Split]``.

Each turns an official on-disk layout into splits of image paths (or decoded arrays) and original
class ids; ``configs/data/<name>.yaml`` points at one with ``_target_`` and ``_partial_: true``.
"""

from metriclab.data.readers.cars import read_cars
from metriclab.data.readers.cifar import read_cifar10, read_cifar100
from metriclab.data.readers.csv import read_csv
from metriclab.data.readers.cub import read_cub
from metriclab.data.readers.digits import read_digits
from metriclab.data.readers.folder import read_folder
from metriclab.data.readers.glyphs import read_glyphs
from metriclab.data.readers.inshop import read_inshop
from metriclab.data.readers.omniglot import read_omniglot
from metriclab.data.readers.sop import read_sop

__all__ = [
    "read_cars",
    "read_cifar10",
    "read_cifar100",
    "read_csv",
    "read_cub",
    "read_digits",
    "read_folder",
    "read_glyphs",
    "read_inshop",
    "read_omniglot",
    "read_sop",
]
