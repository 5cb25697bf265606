"""Which exact search runs: the choice of :func:`~metriclab.search.knn.nearest_neighbors`.

Every path gives the same neighbours (the exact top-k, ties to the lower gallery index):

* ``"blocked"`` (:mod:`metriclab.search.blocked`): blocks of cheap scores with a running
  threshold per row, the candidates re-scored exactly. Self-gallery: the upper triangle only
  (half the work). Cheap scores in ``precision``: ``"bf16"`` where it is measured fast
  (:func:`~metriclab.search.matmul_precision.fast_bf16`), else ``"fp32"``; ``"tf32"`` on request.
* ``"faiss"``, ``"faiss_gpu"``, ``"torch"``: the float32 query-chunk searches of
  :mod:`metriclab.search.backends` (the reference path).

``backend="auto"``: ``"blocked"`` for a self-gallery, and for query -> gallery where the
precision resolves to a reduced one (a bigger saving than the chunk search's); otherwise the
reference path (faiss on the CPU; faiss_gpu on CUDA when installed, else torch). The search
stays on the tensors' device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from metriclab.search.backends import BACKENDS, resolve_backend
from metriclab.search.matmul_precision import PRECISIONS, resolve_precision

ALL_BACKENDS = ("auto", "blocked", *BACKENDS[1:])


@dataclass(frozen=True)
class SearchPlan:
    """A resolved search: ``backend`` (concrete), ``precision`` of the cheap scores (``"fp32"``
    for the reference backends), ``self_gallery``, and the ``device`` type."""

    backend: str
    precision: str
    self_gallery: bool
    device: str

    def describe(self) -> str:
        """One line for the log, e.g. ``blocked self-gallery (upper triangle), bf16 candidates
        + exact re-score, on cpu``."""
        if self.backend != "blocked":
            return f"{self.backend} (exact float32 search), on {self.device}"
        shape = "self-gallery (upper triangle)" if self.self_gallery else "query -> gallery"
        return f"blocked {shape}, {self.precision} candidates + exact re-score, on {self.device}"


def plan_search(
    query: torch.Tensor,
    n_gallery: int,
    k: int,
    exclude_self: bool,
    backend: str = "auto",
    precision: str = "auto",
) -> SearchPlan:
    """Resolve ``backend`` and ``precision`` for ``query [Nq, D]`` against ``n_gallery`` items.

    Raises:
        ValueError: an unknown name, ``tf32`` off CUDA, or a reduced precision asked of a
            reference backend (they search in float32 only).
    """
    if backend not in ALL_BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(ALL_BACKENDS)}, got {backend!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    device = query.device
    if backend not in ("auto", "blocked"):
        if precision not in ("auto", "fp32"):
            raise ValueError(
                f"precision={precision!r} needs backend='blocked' or 'auto' "
                f"(backend={backend!r} searches in float32); drop one of the two"
            )
        return SearchPlan(resolve_backend(backend, query.is_cuda, k), "fp32", False, device.type)
    work = float(len(query)) * n_gallery * query.shape[1] / (2 if exclude_self else 1)
    resolved = resolve_precision(precision, device, work)
    if backend == "blocked" or exclude_self or resolved != "fp32":
        return SearchPlan("blocked", resolved, exclude_self, device.type)
    return SearchPlan(resolve_backend("auto", query.is_cuda, k), "fp32", False, device.type)
