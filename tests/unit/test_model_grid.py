from __future__ import annotations

import numpy as np
import pytest

from liqscope.domain.errors import InputError
from liqscope.model.grid import PriceGrid, nice_step


def test_index_is_floor_of_offset_over_step() -> None:
    g = PriceGrid(origin=100.0, step=10.0, n=5)
    assert g.index([99.99, 100.0, 109.99, 110.0, 149.99, 150.0]).tolist() == [-1, 0, 0, 1, 4, 5]
    assert g.index_of(125.0) == 2
    assert g.edges.tolist() == [100.0, 110.0, 120.0, 130.0, 140.0, 150.0]
    assert g.lower_edges.shape == (5,)


def test_covering_contains_every_level() -> None:
    ratios = np.array([[0.8, 1.2], [0.99, 1.01]])
    g = PriceGrid.covering(900.0, 1100.0, ratios, n=100)
    assert g.n == 100
    idx = g.index([900.0 * 0.8, 1100.0 * 1.2, 900.0, 1100.0])
    assert idx.min() >= 0 and idx.max() < g.n
    assert g.origin % g.step == pytest.approx(0.0)
    g2 = PriceGrid.covering(900.0, 1100.0, ratios, step=5.0)
    assert g2.step == 5.0
    idx = g2.index([720.0, 1320.0])
    assert idx.min() >= 0 and idx.max() < g2.n


def test_nice_step_and_union() -> None:
    assert nice_step(3.1) == 5.0
    assert nice_step(0.021) == pytest.approx(0.025)
    assert nice_step(20.0) == 20.0
    a = PriceGrid(100.0, 10.0, 5)
    b = PriceGrid(130.0, 10.0, 10)
    u = a.union(b)
    assert (u.origin, u.n) == (100.0, 13)
    assert u.offset_of(b) == 3
    with pytest.raises(InputError):
        a.union(PriceGrid(105.0, 10.0, 3))


def test_bad_grids_raise() -> None:
    with pytest.raises(InputError):
        PriceGrid(0.0, 0.0, 3)
    with pytest.raises(InputError):
        PriceGrid(0.0, 1.0, 0)
