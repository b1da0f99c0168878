"""The ground-truth join: either order, duplicates, refusals, expiry, bounds, restart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from otelml.processor.config import ProcessorConfig
from otelml.processor.state.join_txn import UNKNOWN_MODEL
from otelml.processor.state.joins import Joins
from otelml.processor.state.pending import JOINED, PREDICTIONS

from .joindata import actual, config, prediction
from .joindata import open_joins as _open_joins

T = 1_700_000_000.0


def open_joins(
    db: Path, cfg: ProcessorConfig | None = None, clock: Callable[[], float] | None = None
) -> Joins:
    """Open a join whose clock stands two days after T (inside the horizon)."""
    return _open_joins(db, cfg, clock or (lambda: T + 2 * 86400))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "otelml.db"


def _only(j: Joins) -> tuple[int, int, dict[tuple[str, str], int]]:
    [cell] = [c for k, c in j.window(0, 2e9).items() if k[3] == ""]
    return cell.predictions, cell.labeled, dict(cell.confusion)


def test_actual_after_prediction_joins_in_the_prediction_window(db: Path) -> None:
    j = open_joins(db)
    try:
        j.apply([prediction("a", T, value=0.9), prediction("b", T + 7200, value=0.2)])
        assert j.pending() == {"m": 2}
        j.apply([actual("a", T + 86400, label="1")])  # a day later
        assert j.pending() == {"m": 1}
        assert j.counters()[("m", "joined")] == 1
        windows = dict(j.history("m", "1", "production"))
        w0, w2 = int(T - T % 3600), int((T + 7200) - (T + 7200) % 3600)
        assert windows[w0].labeled == 1
        assert windows[w0].confusion == {("1", "1"): 1}
        assert windows[w2].labeled == 0
        assert windows[w2].predictions == 1
        [total] = [c for k, c in j.totals().items() if k[3] == ""]
        assert total.delay_sum == pytest.approx(86400.0)
    finally:
        j.close()


def test_actual_before_prediction_waits_then_joins(db: Path) -> None:
    j = open_joins(db)
    try:
        j.apply([prediction("known", T, value=0.1)])  # the model is known
        j.apply([actual("a", T, label="0")])
        assert j.pending_actuals() == {"m": 1}
        assert j.counters()[("m", "pending")] == 1
        j.apply([prediction("a", T - 5, value=0.7)])
        assert j.pending_actuals() == {}
        assert j.counters()[("m", "joined")] == 1
        assert _only(j) == (2, 1, {("0", "1"): 1})
    finally:
        j.close()


def test_same_request_either_order(db: Path) -> None:
    j = open_joins(db)
    try:
        j.apply([actual("a", T, label="1"), prediction("a", T, value=0.8)])
        assert _only(j) == (1, 1, {("1", "1"): 1})
        assert j.pending() == {}
        assert j.pending_actuals() == {}
    finally:
        j.close()


def test_duplicate_actual_last_one_wins(db: Path) -> None:
    j = open_joins(db)
    try:
        j.apply([prediction("a", T, value=0.8), prediction("b", T, value=0.3)])
        j.apply([actual("a", T + 1, label="0"), actual("b", T + 1, label="0")])
        j.apply([actual("a", T + 2, label="1")])
        j.apply([actual("a", T + 3, label="1"), actual("a", T + 4, label="0")])  # in one request
        assert _only(j) == (2, 2, {("0", "1"): 1, ("0", "0"): 1})
        assert j.counters()[("m", "duplicate")] == 3
        assert j.counters()[("m", "joined")] == 2
        metrics = j.window(0, 2e9)[("m", "1", "production", "")].metrics("1", True)
        assert metrics["accuracy"] == 0.5
    finally:
        j.close()


def test_duplicate_of_a_waiting_actual_replaces_it(db: Path) -> None:
    j = open_joins(db)
    try:
        j.apply([prediction("x", T, value=0.5)])
        j.apply([actual("a", T, label="0"), actual("a", T + 1, label="1")])
        j.apply([prediction("a", T, value=0.9)])
        assert _only(j)[2] == {("1", "1"): 1}
        assert j.counters()[("m", "duplicate")] == 1
    finally:
        j.close()


def test_retried_prediction_counts_once(db: Path) -> None:
    j = open_joins(db)
    try:
        j.apply([prediction("a", T, value=0.9)])
        j.apply([prediction("a", T, value=0.9)])
        j.apply([actual("a", T, label="1")])
        j.apply([prediction("a", T, value=0.9)])  # after the join too
        assert _only(j) == (1, 1, {("1", "1"): 1})
        assert j.counters()[("m", "predictions_duplicate")] == 2
    finally:
        j.close()


def test_unknown_model_and_malformed_actuals_change_nothing(db: Path) -> None:
    j = open_joins(db)
    try:
        j.apply([prediction("a", T, value=0.9)])
        before = (_only(j), j.pending(), j.pending_actuals())
        j.apply(
            [
                actual("a", T, model="other", label="1"),
                actual("a", T),  # neither label nor value
                actual("a", T, value=float("nan")),
            ]
        )
        assert (_only(j), j.pending(), j.pending_actuals()) == before
        assert j.rejected() == {
            ("ml.actual", "unknown_model"): 1,
            ("ml.actual", "malformed_value"): 2,
        }
        c = j.counters()
        assert c[(UNKNOWN_MODEL, "rejected")] == 1
        assert c[("m", "rejected")] == 2
    finally:
        j.close()


def test_known_model_from_elsewhere_lets_orphans_wait(db: Path) -> None:
    j = Joins(db, config(), known_model=lambda m: m == "fraud", clock=lambda: T)
    j.open()
    try:
        j.apply([actual("a", T, model="fraud", label="1"), actual("a", T, model="x", label="1")])
        assert j.pending_actuals() == {"fraud": 1}
    finally:
        j.close()


def test_regression_actual_must_be_numeric(db: Path) -> None:
    j = open_joins(db)
    try:
        j.apply([prediction("a", T, task="regression", value=3.0)])
        j.apply([actual("a", T, label="high")])
        assert j.rejected() == {("ml.actual", "incompatible_actual"): 1}
        assert j.pending() == {"m": 1}
        j.apply([actual("a", T, value=2.5)])
        cell = j.window(0, 2e9)[("m", "1", "production", "")]
        assert cell.metrics("1", False)["mae"] == 0.5
    finally:
        j.close()


def test_horizon_expires_and_counts(db: Path) -> None:
    now = [T]
    cfg = config(joins={"horizon_s": 3600})
    j = open_joins(db, cfg, clock=lambda: now[0])
    try:
        j.apply([prediction("a", T, value=0.9), prediction("b", T + 1800, value=0.1)])
        j.apply([actual("z", T, label="1")])
        now[0] = T + 3600 + 1
        j.expire()
        assert j.pending() == {"m": 1}
        assert j.pending_actuals() == {}
        c = j.counters()
        assert c[("m", "predictions_expired")] == 1
        assert c[("m", "expired")] == 1
        # The expired prediction still counts as made: coverage stays honest.
        assert _only(j)[0] == 2
        j.apply([actual("a", now[0], label="1")])  # too late: waits as an orphan
        assert j.pending_actuals() == {"m": 1}
    finally:
        j.close()


def test_bounded_size_expires_the_oldest(db: Path) -> None:
    cfg = config(joins={"max_pending": 3, "max_pending_actuals": 2})
    j = open_joins(db, cfg)
    try:
        j.apply([prediction(f"p{i}", T + i, value=0.5) for i in range(5)])
        assert j.pending() == {"m": 3}
        assert j.counters()[("m", "predictions_expired")] == 2
        j.apply([actual("p0", T, label="1")])  # p0 expired: becomes an orphan
        assert j.pending_actuals() == {"m": 1}
        j.apply([actual(f"o{i}", T + i, label="1") for i in range(3)])
        assert j.pending_actuals() == {"m": 2}
        assert j.counters()[("m", "expired")] == 2
        j.apply([actual("p4", T, label="1")])
        assert j.counters()[("m", "joined")] == 1
        rows = j._conn.execute(f"SELECT COUNT(*) FROM {PREDICTIONS}").fetchone()[0]  # type: ignore[union-attr]
        assert rows == 2
    finally:
        j.close()


def test_state_survives_restart(db: Path) -> None:
    j = open_joins(db)
    j.apply([prediction("a", T, value=0.9), prediction("b", T, value=0.2)])
    j.apply([actual("a", T + 10, label="1"), actual("c", T, label="0")])
    snapshot = (_only(j), j.counters(), j.pending(), j.pending_actuals())
    j.close()
    j = open_joins(db)
    try:
        assert (_only(j), j.counters(), j.pending(), j.pending_actuals()) == snapshot
        j.apply([actual("b", T + 20, label="0"), prediction("c", T, value=0.4)])
        assert _only(j) == (3, 3, {("1", "1"): 1, ("0", "0"): 2})
        assert j._conn.execute(f"SELECT COUNT(*) FROM {JOINED}").fetchone()[0] == 3  # type: ignore[union-attr]
    finally:
        j.close()


def test_segments_count_in_their_own_and_the_all_rows_series(db: Path) -> None:
    j = open_joins(db)
    try:
        j.apply(
            [
                prediction("a", T, value=0.9, segments={"country": "US"}),
                prediction("b", T, value=0.9, segments={"country": "FR"}),
                actual("a", T, label="1"),
            ]
        )
        w = j.window(0, 2e9)
        assert {k[3]: (c.predictions, c.labeled) for k, c in w.items()} == {
            "": (2, 1),
            "country=US": (1, 1),
            "country=FR": (1, 0),
        }
    finally:
        j.close()


def test_multiclass_scores_and_labels(db: Path) -> None:
    from sklearn.metrics import accuracy_score, log_loss

    j = open_joins(db)
    classes = ["a", "b", "c"]
    probs = [[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.2, 0.3, 0.5], [0.5, 0.4, 0.1]]
    truth = ["a", "c", "c", "b"]
    try:
        ev = []
        for i, (p, y) in enumerate(zip(probs, truth, strict=True)):
            label = classes[max(range(3), key=p.__getitem__)]
            ev.append(
                prediction(
                    str(i),
                    T,
                    task="multiclass_classification",
                    label=label,
                    scores=p,
                    classes=classes,
                )
            )
            ev.append(actual(str(i), T, label=y))
        j.apply(ev)
        m = j.window(0, 2e9)[("m", "1", "production", "")].metrics("1", False)
        pred = [classes[max(range(3), key=p.__getitem__)] for p in probs]
        assert m["accuracy"] == accuracy_score(truth, pred)
        assert m["log_loss"] == pytest.approx(log_loss(truth, probs, labels=classes), rel=1e-12)
    finally:
        j.close()
