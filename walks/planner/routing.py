"""Shortest paths on the graph's CSR arrays: weighted trees, real lengths, penalised legs."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from scipy.sparse.csgraph import dijkstra

from walks.graph import Pleasantness

if TYPE_CHECKING:
    import scipy.sparse as sp
    from numpy.typing import NDArray

    from walks.graph import WalkGraph

#: Cost factor per pleasantness class at ``pleasant_weight`` 1 (quiet, pedestrian, ordinary, busy).
PLEASANT_FACTORS = (1.0, 1.0, 1.3, 1.9)
#: Cost factor on steps when they are to be avoided.
STEPS_FACTOR = 8.0


def edge_factors(
    graph: WalkGraph, *, pleasant_weight: float, avoid_steps: bool
) -> NDArray[np.float64]:
    """
    Cost factor of each edge: 1 on quiet lanes and pedestrian streets, more on others.

    Parameters
    ----------
    graph
        The graph.
    pleasant_weight
        0 makes every factor 1 (plain shortest paths); 1 uses ``PLEASANT_FACTORS``; values in
        between or above scale the extra cost.
    avoid_steps
        Multiply steps by ``STEPS_FACTOR``.

    Returns
    -------
    ndarray
        ``(m,)`` factors, all >= 1.
    """
    extra = np.asarray(PLEASANT_FACTORS)[graph.edge_pleasantness.astype(int)] - 1.0
    factor: NDArray[np.float64] = 1.0 + max(pleasant_weight, 0.0) * extra
    if avoid_steps:
        factor = np.where(graph.edge_steps, factor * STEPS_FACTOR, factor)
    return factor


#: Weighted cost (decimetres) and real length (centimetres) share one float64 per path:
#: ``cost_dm * _SCALE + length_cm``. Exact while a path is under 2684 km and its weighted cost
#: under 3355 km, far beyond any walk; one Dijkstra then gives both.
_SCALE = float(2**28)
#: Sources per Dijkstra call when only some target columns are kept.
_CHUNK = 8


@dataclass
class Router:
    """Routing over one graph with one weighting, reusing its arrays across queries.

    Parameters
    ----------
    graph
        The walking graph.
    factor
        ``(m,)`` cost factor per edge (from ``edge_factors``).
    """

    graph: WalkGraph
    factor: NDArray[np.float64]
    cost: sp.csr_matrix = field(init=False)
    packed: sp.csr_matrix = field(init=False)
    entry_edge: NDArray[np.int64] = field(init=False)
    entry_key: NDArray[np.int64] = field(init=False)

    def __post_init__(self) -> None:
        self.cost, edge = self.graph.csr(self.graph.edge_length_m * self.factor)
        self.entry_edge = np.asarray(edge.data, dtype=np.int64) - 1
        rows = np.repeat(np.arange(self.graph.n_nodes, dtype=np.int64), np.diff(self.cost.indptr))
        self.entry_key = rows * self.graph.n_nodes + self.cost.indices
        weighted_dm = np.maximum(np.round(self.cost.data * 10.0), 1.0)
        length_cm = np.round(self.graph.edge_length_m[self.entry_edge] * 100.0)
        self.packed = self.cost.copy()
        self.packed.data = weighted_dm * _SCALE + length_cm

    def arc_entries(self, tails: NDArray[np.int64], heads: NDArray[np.int64]) -> NDArray[np.int64]:
        """
        Find the CSR entries of arcs.

        Parameters
        ----------
        tails, heads
            Node indices of existing arcs.

        Returns
        -------
        ndarray
            Entry indices into the CSR data (and ``entry_edge``).
        """
        keys = tails.astype(np.int64) * self.graph.n_nodes + heads
        return np.searchsorted(self.entry_key, keys)

    @property
    def one_way(self) -> bool:
        """Whether any edge may be walked in one direction only (costs are then asymmetric)."""
        return bool(np.any(self.graph.edge_direction != 0))

    @cached_property
    def packed_reverse(self) -> sp.csr_matrix:
        """The packed matrix with every arc turned round: trees on it lead *to* the sources."""
        matrix: sp.csr_matrix = self.packed.T.tocsr()
        return matrix

    def trees(
        self, sources: NDArray[np.int64], *, limit: float = np.inf,
        targets: NDArray[np.int64] | None = None, reverse: bool = False,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:  # fmt: skip
        """
        Weighted shortest-path trees from sources, with real lengths along the same paths.

        Parameters
        ----------
        sources
            Node indices.
        limit
            Stop exploring beyond this weighted cost (metres times factors).
        targets
            Keep only these columns (nodes); None keeps all. Sources are searched a few at a
            time, so memory stays small when targets are few.
        reverse
            Measure the ways from every node *to* the sources (one-way foot ways count in
            their walking direction).

        Returns
        -------
        cost : ndarray
            ``(k, t)`` weighted costs in metres (inf where not reached).
        length : ndarray
            ``(k, t)`` real lengths in metres along those paths (inf where not reached).
        """
        packed_limit = (limit * 10.0 + 1.0) * _SCALE if np.isfinite(limit) else np.inf
        sources = np.asarray(sources, dtype=np.int64)
        rows = []
        matrix = self.packed_reverse if reverse and self.one_way else self.packed
        for lo in range(0, max(len(sources), 1), _CHUNK):
            part = np.atleast_2d(
                dijkstra(matrix, indices=sources[lo : lo + _CHUNK], limit=packed_limit)
            )
            rows.append(part if targets is None else part[:, targets])
        packed = np.vstack(rows)
        reached = np.isfinite(packed)
        weighted_dm = np.floor(np.where(reached, packed, 0.0) / _SCALE)
        length = np.where(reached, (packed - weighted_dm * _SCALE) / 100.0, np.inf)
        return np.where(reached, weighted_dm / 10.0, np.inf), length

    def path(
        self, source: int, target: int, *, multiplier: NDArray[np.float64] | None = None,
        limit: float = np.inf,
    ) -> tuple[list[int], list[int]]:  # fmt: skip
        """
        One weighted shortest path, optionally with extra per-edge multipliers (reuse penalties).

        Parameters
        ----------
        source, target
            Node indices.
        multiplier
            ``(m,)`` extra factor per edge, or None.
        limit
            Stop exploring beyond this (multiplied) cost; widened automatically if too tight.

        Returns
        -------
        nodes : list of int
            Node indices from source to target.
        edges : list of int
            Edge indices between them.
        """
        if source == target:
            return [source], []
        matrix = self.cost
        if multiplier is not None:
            matrix = self.cost.copy()
            matrix.data = self.cost.data * multiplier[self.entry_edge]
        while True:
            _, pred = dijkstra(matrix, indices=source, limit=limit, return_predecessors=True)
            if pred[target] >= 0 or not np.isfinite(limit):
                break
            limit *= 4
        nodes = [target]
        while nodes[-1] != source:
            nodes.append(int(pred[nodes[-1]]))
        nodes.reverse()
        arr = np.asarray(nodes, dtype=np.int64)
        edges = self.entry_edge[self.arc_entries(arr[:-1], arr[1:])]
        return nodes, [int(e) for e in edges]


def pleasant_mask(graph: WalkGraph) -> NDArray[np.bool_]:
    """
    Mark pleasant edges (quiet lanes and pedestrian streets).

    Parameters
    ----------
    graph
        The graph.

    Returns
    -------
    ndarray
        ``(m,)`` booleans.
    """
    mask: NDArray[np.bool_] = graph.edge_pleasantness <= int(Pleasantness.PEDESTRIAN)
    return mask
