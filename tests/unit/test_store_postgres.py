"""The server store on a live PostgreSQL server: dispatch by URL, the same schema as SQLite,
migrations, and several writers at once storing nothing twice."""

from __future__ import annotations

import multiprocessing as mp
import socket
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from liqscope.domain.errors import InputError, StoreError
from liqscope.domain.events import Liquidation
from liqscope.domain.types import PriceKind, Side
from liqscope.store import open_store
from liqscope.store.base import LiquidationQuery
from liqscope.store.schema import SCHEMA_VERSION
from liqscope.store.sqlite import SqliteStore

T0 = 1_722_816_000_000


def liq(i: int, venue: str = "binance") -> Liquidation:
    return Liquidation(
        venue, "BTCUSDT", T0 + i, Side.LONG if i % 3 else Side.SHORT, 0.5 + i % 7, 50_000.0 + i,
        PriceKind.AVERAGE_FILL, (0.5 + i % 7) * (50_000.0 + i), False,
    )  # fmt: skip


def test_open_store_chooses_the_backend_by_url(fresh_pg: str, tmp_path: Path) -> None:
    from liqscope.store.postgres import PostgresStore

    with closing(open_store(tmp_path / "a.sqlite")) as a, closing(open_store(fresh_pg)) as b:
        assert isinstance(a, SqliteStore) and isinstance(b, PostgresStore)
    with closing(open_store(str(tmp_path / "b.sqlite"))) as c:
        assert isinstance(c, SqliteStore)
    with pytest.raises(InputError, match="expected a file path or a postgresql"):
        open_store("mysql://x@127.0.0.1/db")


def test_unreachable_server_is_one_clear_line_without_password() -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StoreError) as err:
        open_store(f"postgresql://u:s3cret@127.0.0.1:{port}/db?connect_timeout=2")
    msg = str(err.value)
    assert "connect failed" in msg and "s3cret" not in msg and "\n" not in msg, msg


def _columns(st: object, sqlite: bool) -> dict[str, list[str]]:
    run = st._all  # type: ignore[attr-defined]
    if sqlite:
        tables = [r[0] for r in run("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: [r[1] for r in run(f"PRAGMA table_info({t})")] for t in sorted(tables)}
    rows = run(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
    )
    out: dict[str, list[str]] = {}
    for t, c in rows:
        out.setdefault(t, []).append(c)
    return out


def test_same_tables_and_columns_as_sqlite(fresh_pg: str, tmp_path: Path) -> None:
    with closing(open_store(tmp_path / "s.sqlite")) as lite, closing(open_store(fresh_pg)) as pg:
        assert _columns(pg, sqlite=False) == _columns(lite, sqlite=True)
        assert pg.integrity_check() == ["ok"]


def test_v2_database_migrates_to_v3(fresh_pg: str) -> None:
    import psycopg

    from liqscope.store.pg_schema import PG_MIGRATIONS, partition_ddl

    with psycopg.connect(fresh_pg, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
        conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_ms BIGINT)")
        conn.execute(PG_MIGRATIONS[0][0])  # v1 liquidations, then two rows, then v2
        for statement in partition_ddl("liquidations", T0)[1]:
            conn.execute(statement)
        for k, r in enumerate([liq(5), liq(1)]):
            conn.execute(
                "INSERT INTO liquidations VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                (r.venue, r.symbol, r.ts, int(r.side), r.qty, r.price, r.price_kind.value,
                 r.notional_usd, k),
            )  # fmt: skip
        for statement in PG_MIGRATIONS[0][1:] + PG_MIGRATIONS[1]:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (1, 0), (2, 0)")
    with pytest.raises(InputError, match="schema version 2"):
        open_store(fresh_pg, readonly=True)
    with closing(open_store(fresh_pg)) as st:
        assert [(q, r.ts) for q, r in st.liquidations_after(0)] == [(1, T0 + 1), (2, T0 + 5)]
        assert st.write_liquidations([liq(5), liq(9)]) == 1
        assert st.liquidations_after(2) == [(3, liq(9))]
        assert st.write_alert(st_alert()) > 0 and st.counts()["alerts"] == 1
        versions = st._all("SELECT version FROM schema_version ORDER BY 1")  # type: ignore[attr-defined]
        assert [v for (v,) in versions] == list(range(1, SCHEMA_VERSION + 1))


def st_alert() -> object:
    from liqscope.store.base import AlertRecord

    return AlertRecord("r", "binance", "BTCUSDT", "c", T0, "m", {})


def test_read_only_handle_refuses_writes(fresh_pg: str) -> None:
    open_store(fresh_pg).close()
    with closing(open_store(fresh_pg, readonly=True)) as ro:
        with pytest.raises(StoreError, match="read-only"):
            ro.write_liquidations([liq(1)])
        assert ro.counts()["liquidations"] == 0


def _writer(url: str, start: int, n: int, go: Any, out: Any) -> None:
    st = open_store(url)
    go.wait(60)  # both writers start together
    new = 0
    for i in range(start, start + n, 50):  # batches of 50, like a collector's
        new += st.write_liquidations([liq(k) for k in range(i, min(i + 50, start + n))])
    st.close()
    out.put(new)


def test_two_writers_of_one_venue_store_each_event_once(fresh_pg: str) -> None:
    """Two collectors receiving the same feed (overlapping 2/3 of the events) write at once;
    a follower of the insertion sequence meanwhile sees every stored row exactly once."""
    open_store(fresh_pg).close()  # the schema, for the follower's read-only handle
    ctx = mp.get_context("spawn")
    go, out = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=_writer, args=(fresh_pg, 0, 3_000, go, out)),
        ctx.Process(target=_writer, args=(fresh_pg, 1_000, 3_000, go, out)),
    ]
    for p in procs:
        p.start()
    followed: list[int] = []
    with closing(open_store(fresh_pg, readonly=True)) as reader:
        while any(p.is_alive() for p in procs) or reader.last_liquidation_seq() > (
            followed[-1] if followed else 0
        ):
            followed += [q for q, _ in reader.liquidations_after(followed[-1] if followed else 0)]
        for p in procs:
            p.join(60)
        followed += [q for q, _ in reader.liquidations_after(followed[-1] if followed else 0)]
        news = [out.get(timeout=10), out.get(timeout=10)]
        stored = reader.liquidations(LiquidationQuery())
    assert all(p.exitcode == 0 for p in procs)
    assert sum(news) == 4_000 == len(stored) == len(set(stored))
    assert {r.ts - T0 for r in stored} == set(range(4_000))
    assert followed == list(range(1, 4_001))  # dense, in order, none skipped or seen twice


def test_a_dropped_connection_fails_one_call_then_reconnects(fresh_pg: str) -> None:
    import psycopg

    with closing(open_store(fresh_pg)) as st:
        assert st.write_liquidations([liq(i) for i in range(30)]) == 30
        pid = st._all("SELECT pg_backend_pid()")[0][0]  # type: ignore[attr-defined]
        with psycopg.connect(fresh_pg, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        batch = [liq(i) for i in range(20, 60)]
        with pytest.raises(StoreError) as err:
            st.write_liquidations(batch)
        assert "\n" not in str(err.value)
        assert st.write_liquidations(batch) == 30  # a new connection; nothing half-written
        assert [q for q, _ in st.liquidations_after(0, 1_000)] == list(range(1, 61))


def _partitions(st: object, table: str) -> list[str]:
    rows = st._all(  # type: ignore[attr-defined]
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(?) ORDER BY 1",
        (table,),
    )
    return [str(r[0]) for r in rows]


def test_event_tables_are_partitioned_by_month_and_retention_drops_months(
    fresh_pg: str,
) -> None:
    from liqscope.domain.events import OpenInterest

    aug, sep, octo = T0, 1_725_148_800_000, 1_727_740_800_000  # 2024-08-05, -09-01, -10-01
    day = 86_400_000
    batch = [liq(k, "okx") for k in range(30)]  # COPY path: 30 rows
    spread = [
        Liquidation(r.venue, r.symbol, (aug, sep, octo + 5 * day)[k % 3] + k, r.side, r.qty,
                    r.price, r.price_kind, r.notional_usd, r.sampled)
        for k, r in enumerate(batch)
    ]  # fmt: skip
    with closing(open_store(fresh_pg)) as st, closing(open_store(fresh_pg)) as other:
        assert st.write_liquidations(spread) == 30
        assert st.write_open_interest([OpenInterest("okx", "BTC", sep + 1, 5.0, None)]) == 1
        assert _partitions(st, "liquidations") == [
            "liquidations_m202408",
            "liquidations_m202409",
            "liquidations_m202410",
        ]
        assert _partitions(st, "open_interest") == ["open_interest_m202409"]
        # another handle writing the same months creates nothing and stores nothing twice
        assert other.write_liquidations(spread[::-1]) == 0
        assert len(st.liquidations(LiquidationQuery())) == 30
        assert [q for q, _ in st.liquidations_after(0)] == list(range(1, 31))
        # retention: August and September go whole (dropped), October partly
        cutoff_days = 0
        now = octo + 5 * day + 15  # rows of Oct 6 with k % 3 == 2: k < 15 are deleted
        deleted = st.delete_older_than({"liquidations": cutoff_days, "open_interest": 0}, now)
        assert deleted == {"liquidations": 20 + 5, "open_interest": 1}
        assert _partitions(st, "liquidations") == ["liquidations_m202410"]
        assert st.last_liquidation_seq() == 30  # the floor keeps seqs from being given again
        # a late row for a dropped month: its partition comes back, the seq continues
        assert other.write_liquidations([spread[0]]) == 1
        assert st.liquidations_after(30) == [(31, spread[0])]
        assert "liquidations_m202408" in _partitions(st, "liquidations")
        assert st.integrity_check() == ["ok"]
