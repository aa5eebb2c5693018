"""Proximity warnings: price within ``pct`` % or ``k_sigma`` volatility units of a large cluster."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from liqscope.domain.records import Record
from liqscope.signals.clusters import Cluster


@dataclass(frozen=True, slots=True)
class ProximityWarning(Record):
    """A cluster of at least ``min_usd`` that price is close to."""

    cluster: Cluster
    by_pct: bool
    by_sigma: bool


def proximity(
    clusters: Iterable[Cluster],
    *,
    pct: float | None = 1.0,
    k_sigma: float | None = None,
    min_usd: float = 0.0,
) -> list[ProximityWarning]:
    """Clusters of at least ``min_usd`` whose near edge is within ``pct`` % of price or
    within ``k_sigma`` σ-units (σ·√horizon, as computed by ``find_clusters``); nearest first.
    A criterion given as None is not used."""
    out = []
    for c in clusters:
        if c.usd < min_usd:
            continue
        by_pct = pct is not None and c.distance_pct <= pct
        by_sigma = (
            k_sigma is not None and c.distance_sigma is not None and c.distance_sigma <= k_sigma
        )
        if by_pct or by_sigma:
            out.append(ProximityWarning(c, by_pct, by_sigma))
    out.sort(key=lambda w: w.cluster.distance_pct)
    return out
