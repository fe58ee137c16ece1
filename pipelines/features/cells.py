"""Reading a whitened envelope spectrum at given orders: the largest bin within a cell of each
order, by a sparse range-maximum table (two lookups per cell, whatever the cell's width), and
row-wise medians that ignore the NaNs of cells beyond the analysis band. Pure arrays."""

from __future__ import annotations

import numpy as np

from pipelines.features.spec import InputSpec


class CellReader:
    """A (B, K) whitened spectrum with its sparse range-maximum table: level l holds the max of
    2**l consecutive bins starting at each bin, so any range max is two lookups. Built once
    per snapshot and shared by every read (the speed search, the cells, the probes); a level
    is added only when a read needs a longer range."""

    def __init__(self, white_db: np.ndarray, df_hz: float, k_max: int):
        self.df_hz, self.k_max = df_hz, k_max
        self.levels = [white_db]
        self.table = white_db[None]

    def _table(self, longest: int) -> np.ndarray:
        span = 1 << (len(self.levels) - 1)
        if span * 2 > longest:
            return self.table
        while span * 2 <= longest:
            prev = self.levels[-1]
            nxt = prev.copy()
            nxt[:, : prev.shape[1] - span] = np.maximum(prev[:, : prev.shape[1] - span],
                                                        prev[:, span:])
            self.levels.append(nxt)
            span *= 2
        self.table = np.stack(self.levels)
        return self.table

    def read(self, shaft_hz: float, orders: np.ndarray, offsets: np.ndarray, spec: InputSpec,
             cells: np.ndarray | None = None, rows: np.ndarray | None = None) -> np.ndarray:
        """-> (len(rows), len(orders), len(offsets), len(cells)): the largest value within half
        a cell of ``order * u + offset`` for the spectrum's ``rows`` (default all) and the cell
        indices ``cells`` (default all ``spec.n_cells``); NaN where no valid bin lies (beyond
        the band or below 0 Hz)."""
        u = (np.arange(spec.n_cells) + 1.0) / spec.cells_per_unit
        if cells is not None:
            u = u[cells]
        df_hz, k_max = self.df_hz, self.k_max
        centre = orders[:, None, None] * u[None, None, :] + offsets[None, :, None]  # orders
        half = np.maximum(orders[:, None, None] / (2 * spec.cells_per_unit),
                          0.5 * df_hz / shaft_hz) + np.zeros_like(centre)
        lo = np.ceil((centre - half) * shaft_hz / df_hz).astype(np.int64)
        hi = np.floor((centre + half) * shaft_hz / df_hz).astype(np.int64)
        lo = np.maximum(lo, 1)
        hi = np.minimum(np.maximum(hi, lo), k_max - 1)
        valid = lo <= hi  # also false where the whole cell lies beyond k_max or below 1 Hz
        hi = np.maximum(hi, lo)
        length = hi - lo + 1
        level = np.floor(np.log2(length)).astype(np.int64)
        table = self._table(int(length.max()))
        k = table.shape[-1] - 1
        if rows is None:
            a = table[level, :, np.clip(lo, 0, k)]  # (F, S, L, B)
            b = table[level, :, np.clip(hi - (1 << level) + 1, 0, k)]
        else:  # gathered in place: no copy of the table's rows
            r = np.asarray(rows)[None, None, None, :]
            a = table[level[..., None], r, np.clip(lo, 0, k)[..., None]]
            b = table[level[..., None], r, np.clip(hi - (1 << level) + 1, 0, k)[..., None]]
        out = np.moveaxis(np.maximum(a, b), -1, 0)
        return np.where(valid[None], out, np.nan)


def row_medians(flat: np.ndarray) -> np.ndarray:
    """Row-wise median of (B, M) values, NaNs ignored (sort puts them last)."""
    n_ok = np.maximum((~np.isnan(flat)).sum(axis=1), 1)
    v = np.sort(flat, axis=1)
    lo, hi = (n_ok - 1) // 2, n_ok // 2
    return 0.5 * (np.take_along_axis(v, lo[:, None], 1) + np.take_along_axis(v, hi[:, None], 1))[:, 0]
