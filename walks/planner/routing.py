"""Shortest paths on the graph's CSR arrays: weighted trees, real lengths, penalised legs."""

from __future__ import annotations

from dataclasses import dataclass, field
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
_CHUNK = 16


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
    entry_edge: NDArray[np.int64] = field(init=False)
    entry_key: NDArray[np.int64] = field(init=False)
    entry_length: NDArray[np.float64] = field(init=False)

    def __post_init__(self) -> None:
        self.cost, edge = self.graph.csr(self.graph.edge_length_m * self.factor)
        self.entry_edge = np.asarray(edge.data, dtype=np.int64) - 1
        rows = np.repeat(np.arange(self.graph.n_nodes, dtype=np.int64), np.diff(self.cost.indptr))
        self.entry_key = rows * self.graph.n_nodes + self.cost.indices
        self.entry_length = self.graph.edge_length_m[self.entry_edge]

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
            Entry indices into the CSR data (and ``entry_*`` arrays).
        """
        keys = tails.astype(np.int64) * self.graph.n_nodes + heads
        return np.searchsorted(self.entry_key, keys)

    def trees(
        self, sources: NDArray[np.int64], *, limit: float = np.inf
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """
        Weighted shortest-path trees from sources, with real lengths along them.

        Parameters
        ----------
        sources
            Node indices.
        limit
            Stop exploring beyond this weighted cost.

        Returns
        -------
        cost : ndarray
            ``(k, n)`` weighted costs (inf where not reached).
        length : ndarray
            ``(k, n)`` real lengths in metres along the same paths (inf where not reached).
        """
        costs, lengths = [], []
        for lo in range(0, len(sources), _CHUNK):
            chunk = np.asarray(sources[lo : lo + _CHUNK])
            dist, pred = dijkstra(self.cost, indices=chunk, limit=limit, return_predecessors=True)
            costs.append(dist)
            lengths.append(self._tree_lengths(pred, chunk))
        return np.vstack(costs), np.vstack(lengths)

    def _tree_lengths(
        self, pred: NDArray[np.int32], sources: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """
        Sum real edge lengths along predecessor trees by pointer jumping (log-depth passes).

        Parameters
        ----------
        pred
            ``(k, n)`` predecessors from ``dijkstra`` (-9999 for roots and unreached nodes).
        sources
            The ``k`` roots.

        Returns
        -------
        ndarray
            ``(k, n)`` lengths in metres; inf where not reached.
        """
        k, n = pred.shape
        reached = pred >= 0
        node = np.broadcast_to(np.arange(n), (k, n))
        parent = np.where(reached, pred, node).astype(np.int64)
        step = np.zeros((k, n))
        step[reached] = self.entry_length[self.arc_entries(parent[reached], node[reached])]
        offset = (np.arange(k, dtype=np.int64) * n)[:, None]
        flat_parent = (parent + offset).ravel()
        total = step.ravel()
        while True:
            grand = flat_parent[flat_parent]
            if np.array_equal(grand, flat_parent):
                break
            total = total + total[flat_parent]
            flat_parent = grand
        out = total.reshape(k, n)
        out[~reached] = np.inf
        out[np.arange(k), sources] = 0.0
        return out

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
