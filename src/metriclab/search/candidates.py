"""Per-row candidate buffers of the blocked search, with each row's running threshold.

A row keeps every gallery item whose cheap score ``s~`` reached its threshold ``theta`` when
the item was seen. ``theta = ErrorModel.threshold(v)`` with ``v`` the ``k``-th largest score
among the row's candidates so far: a lower bound of the final ``k``-th score, so ``theta`` stays
at or below the final threshold and no exact neighbour is ever left out
(:meth:`metriclab.search.matmul_precision.ErrorModel.threshold`). ``theta`` only rises, and each
new block is first tested against it (a row whose block maximum is below ``theta`` costs one
comparison), so after the first blocks few scores are looked at twice.

A row with more than ``cap`` candidates at or above its threshold (massive ties) is marked
``overflow``, stops collecting (``theta = +inf``) and is recomputed exactly by the caller.
"""

from __future__ import annotations

import torch

from metriclab.search import scan
from metriclab.search.matmul_precision import ErrorModel

FLOOR = -3.0  # below any cheap score of unit vectors: the threshold before a row has k scores


class CandidatePool:
    """Buffers ``scores [n, cap]`` (float32, ``-inf`` = empty) and ``index [n, cap]`` (int64).

    Args:
        n: rows (queries).
        k: neighbours wanted per row (at most the gallery size).
        cap: slots per row, ``>= k``.
        model: the error bound of the cheap scores.
        device: where the buffers live (the scores' device).
    """

    def __init__(self, n: int, k: int, cap: int, model: ErrorModel, device: torch.device):
        self.k, self.cap, self.model = k, cap, model
        self.scores = torch.full((n, cap), float("-inf"), device=device)
        self.index = torch.full((n, cap), -1, dtype=torch.int64, device=device)
        self.fill = torch.zeros(n, dtype=torch.int64, device=device)
        self.theta = torch.full((n,), FLOOR, device=device)
        self.overflow = torch.zeros(n, dtype=torch.bool, device=device)

    def seed(self, rows: slice, block: torch.Tensor) -> None:
        """Set the thresholds of ``rows`` from the ``k``-th score of their first block ``[m, c]``
        (only where the block has ``k`` columns); its scores must then be collected."""
        if block.shape[1] >= self.k:
            kth = block.topk(self.k, dim=1).values[:, -1].float()
            self.theta[rows] = torch.maximum(self.theta[rows], self.model.threshold(kth))

    def collect(self, block: torch.Tensor, row0: int, col0: int, columns: bool = False) -> None:
        """Add the scores of ``block [m, c]`` (rows ``row0 + i``, gallery ``col0 + j``) that
        reach their row's threshold; with ``columns`` also those of the transposed block (rows
        ``col0 + j``, gallery ``row0 + i``: a self-gallery block serves both). On the CPU one
        numba pass (:mod:`metriclab.search.scan`) tests both; else torch passes."""
        if scan.available(block):
            col_theta = self.theta[col0 : col0 + block.shape[1]] if columns else None
            rows, cols = scan.scan_block(block, self.theta[row0 : row0 + len(block)], col_theta)
            for (i, j), r0, c0, t in (
                (rows, row0, col0, False),
                (cols or ([], []), col0, row0, True),
            ):
                if len(i):
                    i, j = torch.from_numpy(i), torch.from_numpy(j)
                    self.add(r0 + i, c0 + j, (block[j, i] if t else block[i, j]).float())
            return
        self._collect_torch(block, row0, col0)
        if columns:
            self._collect_torch(block.T, col0, row0)

    def _collect_torch(self, block: torch.Tensor, row0: int, col0: int) -> None:
        theta = self.theta[row0 : row0 + block.shape[0]]
        hot = (block.amax(dim=1) >= theta).nonzero().flatten()
        if not len(hot):
            return
        sub = block[hot]
        i, j = (sub >= theta[hot, None]).nonzero(as_tuple=True)
        self.add(row0 + hot[i], col0 + j, sub[i, j].float())

    def add(self, rows: torch.Tensor, cols: torch.Tensor, scores: torch.Tensor) -> None:
        """Append candidates ``[P]`` whose ``rows`` are sorted ascending."""
        offset = torch.arange(len(rows), device=rows.device) - torch.searchsorted(rows, rows)
        pos = self.fill[rows] + offset
        fits = pos < self.cap
        flat = (rows * self.cap + pos)[fits]
        self.scores.view(-1)[flat] = scores[fits]
        self.index.view(-1)[flat] = cols[fits]
        uniq = rows[offset == 0]
        self.fill.index_add_(0, rows, torch.ones_like(rows))
        full = self.fill[uniq] > self.cap
        if bool(full.any()):
            spill = ~fits
            self._compact(uniq[full], rows[spill], cols[spill], scores[spill])
        self._raise_theta(uniq)

    def _raise_theta(self, rows: torch.Tensor) -> None:
        rows = rows[(self.fill[rows] >= self.k) & ~self.overflow[rows]]
        if len(rows):
            kth = self.scores[rows].topk(self.k, dim=1).values[:, -1]
            self.theta[rows] = torch.maximum(self.theta[rows], self.model.threshold(kth))

    def _compact(
        self, rows: torch.Tensor, s_rows: torch.Tensor, s_cols: torch.Tensor, s_vals: torch.Tensor
    ) -> None:
        """Full ``rows`` (sorted) plus their spilled candidates: keep those at or above the
        raised threshold, in at most ``cap`` slots; mark the rows that still do not fit."""
        local = torch.searchsorted(rows, s_rows)
        counts = torch.bincount(local, minlength=len(rows))
        first = torch.cumsum(counts, 0) - counts
        offset = torch.arange(len(local), device=local.device) - first[local]
        width = self.cap + int(counts.max())
        scores = torch.full((len(rows), width), float("-inf"), device=rows.device)
        index = torch.full((len(rows), width), -1, dtype=torch.int64, device=rows.device)
        scores[:, : self.cap], index[:, : self.cap] = self.scores[rows], self.index[rows]
        scores[local, self.cap + offset], index[local, self.cap + offset] = s_vals, s_cols
        kth = scores.topk(self.k, dim=1).values[:, -1]
        theta = torch.maximum(self.theta[rows], self.model.threshold(kth))
        keep = scores >= theta[:, None]
        kept = keep.sum(dim=1)
        order = keep.to(torch.int8).sort(dim=1, descending=True, stable=True).indices[:, : self.cap]
        scores, index = scores.gather(1, order), index.gather(1, order)
        scores[~keep.gather(1, order)] = float("-inf")
        self.scores[rows], self.index[rows] = scores, index
        self.fill[rows] = kept.clamp(max=self.cap)
        over = kept > self.cap
        self.theta[rows] = torch.where(over, float("inf"), theta)
        self.overflow[rows] |= over

    def final(self, rows: slice) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(scores, index, valid)`` of ``rows`` ``[m, cap]``: ``valid`` marks the candidates
        at or above the final threshold (all of a row's candidates while it has fewer than k)."""
        scores, index = self.scores[rows], self.index[rows]
        theta = self.theta[rows].clone()
        enough = self.fill[rows] >= self.k
        if bool(enough.any()):
            kth = scores[enough].topk(self.k, dim=1).values[:, -1]
            theta[enough] = torch.maximum(theta[enough], self.model.threshold(kth))
        return scores, index, (scores >= theta[:, None]) & (index >= 0)
