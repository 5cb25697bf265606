"""Search backends of :func:`~metriclab.search.knn.nearest_neighbors`.

Each backend is a searcher built once per gallery, ``search(q [c, D], k) -> (sims [c, k],
indices [c, k] int64)``, nearest first, on the device of ``q``:

* ``"faiss"``: ``faiss.knn`` (exact inner product, BLAS + heap) on CPU float32 arrays;
* ``"faiss_gpu"``: a ``faiss.GpuIndexFlatIP`` holding the gallery on the GPU (faiss-gpu builds),
  CUDA tensors searched in place through ``faiss.contrib.torch_utils``;
* ``"torch"``: a running ``topk`` over ``[c, block]`` blocks of ``q @ gallery.T`` on the tensors'
  device (CUDA, or CPU in the tests), in full float32 precision (no TF32).

``"auto"`` picks faiss for CPU tensors; for CUDA tensors faiss_gpu when the installed FAISS has
GPU support, else torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import faiss
import numpy as np
import torch

Searcher = Callable[[torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]]
BACKENDS = ("auto", "faiss", "faiss_gpu", "torch")
_FAISS_GPU_MAX_K = 2048  # GPU k-selection limit of FAISS


def faiss_has_gpu() -> bool:
    """Whether the installed FAISS was built with GPU support and sees a GPU."""
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def resolve_backend(backend: str, on_cuda: bool, k: int = 1) -> str:
    """The concrete backend for ``backend`` (``"auto"`` resolved; see the module docstring)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend != "auto":
        return backend
    if not on_cuda:
        return "faiss"
    return "faiss_gpu" if faiss_has_gpu() and k <= _FAISS_GPU_MAX_K else "torch"


def make_searcher(backend: str, gallery: torch.Tensor, block: int) -> Searcher:
    """A searcher over ``gallery [Ng, D]`` (L2-normalised float32) for a concrete backend.

    ``block``: gallery columns per ``[c, block]`` similarity block of the torch backend.
    """
    if backend == "faiss":
        gallery_np = gallery.cpu().numpy()

        def search_faiss(q: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
            sims, idx = faiss.knn(q.cpu().numpy(), gallery_np, k, metric=faiss.METRIC_INNER_PRODUCT)
            return torch.from_numpy(sims), torch.from_numpy(idx)

        return search_faiss
    if backend == "faiss_gpu":
        return _FaissGpuSearcher(gallery)
    if backend == "torch":
        return lambda q, k: _torch_topk(q, gallery, k, block)
    raise ValueError(f"backend must be one of {', '.join(BACKENDS[1:])}, got {backend!r}")


class _FaissGpuSearcher:
    """The gallery copied once into a ``GpuIndexFlatIP`` on its device (GPU 0 for CPU input)."""

    def __init__(self, gallery: torch.Tensor) -> None:
        if not faiss_has_gpu():
            raise ValueError(
                "backend='faiss_gpu' needs a FAISS build with GPU support and a visible GPU; "
                "install faiss-gpu, or use backend='torch' for CUDA tensors"
            )
        config = faiss.GpuIndexFlatConfig()
        config.device = gallery.device.index or 0
        self.resources = faiss.StandardGpuResources()  # must outlive the index
        self.index = faiss.GpuIndexFlatIP(self.resources, gallery.shape[1], config)
        self.on_cuda = gallery.is_cuda
        if self.on_cuda:  # CUDA tensors in and out: no host round trip
            importlib.import_module("faiss.contrib.torch_utils")  # add/search take torch tensors
            self.index.add(gallery.contiguous())
        else:
            self.index.add(np.ascontiguousarray(gallery.cpu().numpy()))

    def __call__(self, q: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.on_cuda:
            return self.index.search(q.contiguous(), k)
        sims, idx = self.index.search(np.ascontiguousarray(q.cpu().numpy()), k)
        return torch.from_numpy(sims).to(q.device), torch.from_numpy(idx).to(q.device)


def _torch_topk(
    q: torch.Tensor, gallery: torch.Tensor, k: int, block: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Running top-k over gallery blocks: ``[c, D], [Ng, D] -> sims [c, k], indices [c, k]``."""
    best_s = best_i = None
    with full_precision_matmul():
        for g0 in range(0, gallery.shape[0], block):
            sims = q @ gallery[g0 : g0 + block].T
            s, i = sims.topk(min(k, sims.shape[1]), dim=1)
            i += g0
            if best_s is not None:
                s, i = torch.cat([best_s, s], dim=1), torch.cat([best_i, i], dim=1)
                s, order = s.topk(min(k, s.shape[1]), dim=1)
                i = i.gather(1, order)
            best_s, best_i = s, i
    return best_s, best_i


@contextmanager
def full_precision_matmul() -> Iterator[None]:
    """Run float32 matmuls in full precision (no TF32/bf16), restoring the user's setting."""
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)
