"""The served gallery: an export bundle in memory, searched, embedded into and edited.

A :class:`Gallery` holds what ``scripts/export.py`` wrote (the TorchScript embedder, the index of
any kind, ``index.json``, the class centroids) plus the stable item ids of ``items.json``
(:mod:`~metriclab.service.store`). It lives in LitServe's inference worker, which runs
one batch at a time, so a search never sees an edit half-applied.

Edits, every index kind:

- **enrol** (:meth:`Gallery.add`): the image is embedded by the exported model and added to the
  index (an exact index: a new row; a compressed one: the vector coded as the index codes it,
  ``vectors.npy`` grows); its class centroid becomes the running mean
  ``c <- (n c + x) / (n + 1)`` of the unit embeddings ``x``;
- **remove** (:meth:`Gallery.remove`): an exact flat index deletes the row
  (``IndexFlat.remove_ids``). HNSW cannot delete, and IVF / PQ / binary codes are not worth
  rewriting per removal, so a compressed index marks the row **dead** (a tombstone in
  ``items.json``: searched over ``k + #dead`` and filtered out) and is **rebuilt** from the live
  rows of ``vectors.npy`` once a quarter of its rows (at least :data:`REBUILD_MIN`) are dead. The
  centroid becomes ``(n c - x) / (n - 1)``.

Each edit is persisted with :func:`~metriclab.service.store.commit` before it is
acknowledged; an edit that fails part-way reloads the bundle from disk (the truth) instead of
keeping a half-changed gallery in memory.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import torch
from PIL import Image

from metriclab.deployment.bundle import CENTROIDS, load_centroids
from metriclab.deployment.embedding import eval_transform
from metriclab.deployment.index import (
    CompressedIndex,
    IndexMeta,
    load_index,
    normalized,
    remove_rows,
    search,
)
from metriclab.deployment.loading import load_embedder
from metriclab.service import store

REBUILD_MIN = 16  # a compressed index is rebuilt when max(16, N / 4) of its rows are dead
UNKNOWN = "unknown"


class GalleryError(Exception):
    """A request the gallery refuses: an HTTP ``status`` and one line saying what and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Decider:
    """The open-set classifier calibrated at export (``index.json``'s ``classifier``), else the
    k-NN vote of 5 with no threshold (every query gets a class)."""

    method: str
    k: int
    threshold: float | None
    temperature: float

    @classmethod
    def of(cls, meta: IndexMeta) -> Decider:
        c = meta.classifier or {}
        method = str(c.get("method", "knn"))
        temperature = float(c.get("temperature", 0.0)) if method == "centroid" else 0.0
        threshold = float(c["threshold"]) if "threshold" in c else None
        return cls(method, int(c.get("k", 5)), threshold, temperature)


def decode(data: bytes, mode: str) -> Image.Image:
    """The uploaded bytes as a PIL image of ``mode``, decoded as ``load_image`` decodes a file."""
    with Image.open(io.BytesIO(data)) as image:
        return image.convert(mode)


class Gallery:
    """An export folder loaded for serving (see the module docstring).

    Attributes:
        generation: the service's edit counter this state reflects (the HTTP side sends the
            current one with each request; a worker that is behind reloads from disk).
    """

    def __init__(self, folder: Path, generation: int = 0) -> None:
        self.folder = Path(folder).expanduser().resolve()
        self.generation = generation
        with store.locked(self.folder):
            store.recover(self.folder)
            self.index, self.meta = load_index(self.folder)
            self.items = store.read_items(self.folder, self.meta.paths, self.meta.labels)
            self.centroids = load_centroids(self.folder, self.index, self.meta).astype(np.float32)
            store.drop_orphan_uploads(self.folder, set(self.meta.paths))
            self._stamp = self._disk_stamp()
        self.model = load_embedder(self.folder, self.meta, "torchscript")
        self.transform = eval_transform(self.meta.transform)
        self.mode = "L" if self.meta.transform["channels"] == 1 else "RGB"
        self.decider = Decider.of(self.meta)
        self._rows: dict[int, int] | None = None
        self._after_persist: list[str] = []  # images of rows a rebuild dropped

    # ---------------------------------------------------------------- reading
    @property
    def kind(self) -> str:
        """``"flat fp32"`` or the operating point, e.g. ``"hnsw int8 (64-d)"``."""
        if self.meta.is_exact:
            return "flat fp32"
        spec = self.meta.index
        return f"{spec['index']} {spec['code']} ({spec['dims']}-d)"

    @property
    def size(self) -> int:
        """Live items (rows minus tombstones)."""
        return self.index.ntotal - len(self.items.dead)

    def row_of(self, item_id: int) -> int:
        """The live index row of ``item_id``; 404 if there is none."""
        if self._rows is None:
            dead = set(self.items.dead)
            self._rows = {i: r for r, i in enumerate(self.items.ids) if r not in dead}
        if item_id not in self._rows:
            raise GalleryError(404, f"no item with id {item_id} in the gallery")
        return self._rows[item_id]

    def tensors(self, images: list[bytes]) -> torch.Tensor:
        """``[B, C, S, S]``: each image decoded and transformed as the export's gallery was."""
        return torch.stack([self.transform(decode(data, self.mode)) for data in images])

    @torch.inference_mode()
    def embed(self, batch: torch.Tensor) -> np.ndarray:
        """``float32 [B, D]``: the exported model's embeddings (not normalised)."""
        return self.model(batch).float().numpy()

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``sims [Q, k']``, ``rows [Q, k']`` over the live rows, ``k' = min(k, size)``."""
        k = min(k, self.size)
        dead = self.items.dead
        sims, rows = search(self.index, queries, k + len(dead))
        if dead:
            drop = np.isin(rows, dead) | (rows < 0)
            order = np.argsort(drop, axis=1, kind="stable")  # live first, in rank order
            sims = np.take_along_axis(np.where(drop, -np.inf, sims), order, axis=1)
            rows = np.take_along_axis(np.where(drop, -1, rows), order, axis=1)
        return sims[:, :k].astype(np.float32), rows[:, :k]

    def answers(self, queries: np.ndarray, k: int) -> list[dict[str, Any]]:
        """For each query ``[Q, D]``: its top-``k`` matches and the open-set decision."""
        from metriclab.recognition.classify import classify

        d = self.decider
        sims, rows = self.search(queries, max(k, d.k))
        labels = np.asarray(self.meta.labels + [-1], dtype=np.int64)[rows]
        vote_k = min(d.k, sims.shape[1])
        label, confidence = classify(
            d.method, sims, labels, normalized(queries), self.centroids, vote_k, True, d.temperature
        )
        names = self.meta.class_names
        out = []
        for q in range(len(queries)):
            c, conf = int(label[q]), float(confidence[q])
            accepted = c >= 0 and (d.threshold is None or conf >= d.threshold)
            matches = [
                {
                    "id": self.items.ids[r],
                    "class": names[self.meta.labels[r]] if self.meta.labels[r] >= 0 else UNKNOWN,
                    "similarity": round(float(s), 6),
                    "path": self.meta.paths[r],
                }
                for s, r in zip(sims[q, :k], rows[q, :k], strict=True)
                if r >= 0
            ]
            decision = {
                "class": names[c] if accepted else UNKNOWN,
                "nearest_class": names[c] if c >= 0 else None,
                "accepted": bool(accepted),
                "confidence": round(conf, 6),
                "threshold": d.threshold,
                "classifier": d.method,
                "k": d.k,
            }
            out.append({"matches": matches, "decision": decision})
        return out

    # ---------------------------------------------------------------- editing
    def _disk_stamp(self) -> tuple[int, int, int]:
        info = (self.folder / "index.json").stat()
        return info.st_ino, info.st_mtime_ns, info.st_size

    def _check_unchanged(self) -> None:
        """Refuse an edit when the export on disk is no longer the one served (re-exported or
        edited by ``enroll.py`` since): the edit would overwrite it."""
        try:
            same = self._disk_stamp() == self._stamp
        except FileNotFoundError:
            same = False
        if not same:
            raise GalleryError(
                409,
                f"the export in {self.folder} changed on disk since it was loaded; "
                "POST /reload to serve it, then edit",
            )

    def add(self, data: bytes, suffix: str, class_name: str) -> dict[str, Any]:
        """Enrol one image of ``class_name`` (a new class if the name is new); persisted."""
        x = normalized(self.embed(self.tensors([data])))
        with store.locked(self.folder):
            self._check_unchanged()
            try:
                return self._add(x, data, suffix, class_name)
            except BaseException:
                self.__init__(self.folder, self.generation)  # the disk holds the truth
                raise

    def _add(self, x: np.ndarray, data: bytes, suffix: str, class_name: str) -> dict[str, Any]:
        meta, items = self.meta, self.items
        item_id = items.next_id
        path = str(store.save_upload(self.folder, item_id, data, suffix))
        if class_name not in meta.class_names:
            meta.class_names.append(class_name)
            self.centroids = np.vstack([self.centroids, np.zeros_like(self.centroids[:1])])
        c = meta.class_names.index(class_name)
        n = self._class_count(c)
        self.centroids[c] = (self.centroids[c] * n + x[0]) / (n + 1)
        if isinstance(self.index, CompressedIndex):
            self._add_compressed(x)
        else:
            self.index.add(x)
        meta.paths.append(path)
        meta.labels.append(c)
        items.ids.append(item_id)
        items.next_id += 1
        self._persist()
        return {"id": item_id, "class": class_name, "path": path, "items": self.size}

    def _add_compressed(self, x: np.ndarray) -> None:
        old = self.index
        prefix = normalized(x[:, : old.dims])
        if old.code.startswith("binary"):
            old.codes.add(np.packbits(prefix > 0, axis=1))
        else:
            old.codes.add(prefix)
        self.index = CompressedIndex(old.codes, np.vstack([old.vectors, x]), old.spec)

    def remove(self, item_id: int) -> dict[str, Any]:
        """Remove item ``item_id`` (see the module docstring); persisted."""
        with store.locked(self.folder):
            self._check_unchanged()
            row = self.row_of(item_id)
            try:
                return self._remove(item_id, row)
            except BaseException:
                self.__init__(self.folder, self.generation)
                raise

    def _remove(self, item_id: int, row: int) -> dict[str, Any]:
        meta, items = self.meta, self.items
        c, path = meta.labels[row], meta.paths[row]
        if c >= 0:
            n = self._class_count(c)
            x = self._vector(row)
            self.centroids[c] = 0.0 if n <= 1 else (self.centroids[c] * n - x) / (n - 1)
        how = "deleted"
        if isinstance(self.index, CompressedIndex):
            items.dead.append(row)
            how = "tombstoned"
            if len(items.dead) >= max(REBUILD_MIN, self.index.ntotal // 4) and self._rebuild():
                how = "tombstoned; index rebuilt"
        else:
            remove_rows(self.index, np.array([row]))
            del meta.paths[row], meta.labels[row], items.ids[row]
        self._rows = None
        self._persist()
        uploads = (self.folder / store.UPLOADS).resolve()
        if how == "deleted" and Path(path).parent == uploads:
            Path(path).unlink(missing_ok=True)  # an image the service itself stored
        return {"id": item_id, "removed": how, "items": self.size}

    def _vector(self, row: int) -> np.ndarray:
        if isinstance(self.index, CompressedIndex):
            return self.index.vectors[row]
        return self.index.reconstruct(int(row))

    def _class_count(self, c: int) -> int:
        dead = set(self.items.dead)
        return sum(1 for r, y in enumerate(self.meta.labels) if y == c and r not in dead)

    def _rebuild(self) -> bool:
        """Drop the tombstoned rows: the compressed index built again from the live vectors.
        ``False`` (tombstones kept) when the live rows are too few to train its codes (PQ
        needs 256 per sub-quantizer, IVF one per cell)."""
        from metriclab.deployment.frontier import build

        old, meta, items = self.index, self.meta, self.items
        keep = np.setdiff1d(np.arange(old.ntotal), items.dead)
        vectors = old.vectors[keep]
        spec = old.spec
        try:
            codes, _ = build(
                spec["code"], spec["index"], normalized(vectors[:, : old.dims]), spec["params"]
            )
        except RuntimeError:
            return False
        uploads = (self.folder / store.UPLOADS).resolve()
        gone = [meta.paths[r] for r in items.dead if Path(meta.paths[r]).parent == uploads]
        meta.paths = [meta.paths[r] for r in keep]
        meta.labels = [meta.labels[r] for r in keep]
        items.ids = [items.ids[r] for r in keep]
        items.dead = []
        self.index = CompressedIndex(codes, vectors, spec)
        self._after_persist = gone
        return True

    def _persist(self) -> None:
        """Write the gallery into the bundle atomically (:func:`store.commit`)."""
        meta, items, index = self.meta, self.items, self.index
        items.digest = store.rows_digest(meta.paths, meta.labels)

        def write_index(path: Path) -> None:
            if isinstance(index, CompressedIndex):
                binary = index.code.startswith("binary")
                (faiss.write_index_binary if binary else faiss.write_index)(index.codes, str(path))
            else:
                faiss.write_index(index, str(path))

        def write_npy(array: np.ndarray):
            def write(path: Path) -> None:
                with open(path, "wb") as f:
                    np.save(f, array)

            return write

        writers = {
            "index.faiss": write_index,
            "index.json": lambda p: p.write_text(json.dumps(asdict(meta), indent=1), "utf-8"),
            CENTROIDS: write_npy(self.centroids.astype(np.float32)),
            store.ITEMS: store.items_writer(items),
        }
        if isinstance(index, CompressedIndex):
            writers["vectors.npy"] = write_npy(index.vectors)
        store.commit(self.folder, writers)
        self._stamp = self._disk_stamp()
        for path in self._after_persist:
            if os.path.exists(path):
                os.unlink(path)
        self._after_persist = []

    def info(self) -> dict[str, Any]:
        """What ``GET /health`` reports."""
        return {
            "status": "ok",
            "index": str(self.folder),
            "kind": self.kind,
            "items": self.size,
            "tombstones": len(self.items.dead),
            "classes": len(self.meta.class_names),
            "embedding_size": self.meta.embedding_size,
            "classifier": asdict(self.decider),
            "generation": self.generation,
        }
