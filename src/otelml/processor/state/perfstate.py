"""Performance state of one prediction window: sparse, mergeable, and subtractable.

A :class:`Cell` holds everything the processor knows about the predictions made in one window of
one (model, version, environment, segment): how many were made, the score histogram of all of
them (for CBPE), and, for those joined to an actual, confusion counts, per-label score
histograms, log-loss / Brier sums and regression error sums, plus the label-delay histogram.

Every contribution can be removed again (``sign=-1``): a duplicate actual replaces the joined
row's old contribution by the new one, so "the last actual wins" without rebuilding a window.
Counts are integers (exact); the float sums lose at most a few ulps per subtraction. Regression
keeps shifted sums Σ(y - K), Σ(y - K)² around the first value K seen, which stay accurate when
the mean is large against the spread and can be subtracted (Welford's running form cannot).

Scores are binned on ``otelml.stats``' default fine edges (1000 uniform bins over [0, 1], upper
inclusive) and stored sparsely, so a quiet window costs a few bytes. Metrics come from the
``otelml.stats.performance`` states built on demand, and so match scikit-learn's definitions.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

import numpy as np

from otelml.processor.state.perfkeys import (
    DELAY_BUCKETS,
    SCORE_EDGES,
    add_count,
    dense,
    nanmean,
    ratio,
    score_bin,
)
from otelml.processor.state.rows import Row
from otelml.stats.performance import (
    ConfusionCounts,
    ProbabilisticSums,
    RegressionSums,
    ScoreHistograms,
)

_EPS = float(np.finfo(np.float64).eps)


class Cell:
    """The performance state of one window of one series (or of its whole history)."""

    __slots__ = (
        "brier",
        "confusion",
        "delay",
        "delay_sum",
        "lab_pp",
        "labeled",
        "log_loss",
        "neg",
        "ovr",
        "pos",
        "predictions",
        "prob_classes",
        "prob_n",
        "reg_abs",
        "reg_ape",
        "reg_k",
        "reg_n",
        "reg_s1",
        "reg_s2",
        "reg_sq",
        "score_all",
        "score_pp",
        "score_pp_n",
    )

    def __init__(self) -> None:
        self.predictions = 0
        self.score_all: dict[int, int] = {}
        self.score_pp: dict[int, int] = {}
        """Score bins of the predictions the model called positive (its own decision)."""
        self.score_pp_n = 0
        """Scored predictions whose decision is known (cells older than it lack some)."""
        self.lab_pp: dict[int, int] = {}
        """Score bins of the labelled predictions the model called positive."""
        self.labeled = 0
        self.confusion: dict[tuple[str, str], int] = {}
        self.pos: dict[int, int] = {}
        self.neg: dict[int, int] = {}
        self.ovr: dict[str, tuple[dict[int, int], dict[int, int]]] = {}
        self.prob_n = 0
        self.prob_classes = 0
        self.log_loss = 0.0
        self.brier = 0.0
        self.reg_n = 0
        self.reg_abs = 0.0
        self.reg_sq = 0.0
        self.reg_ape = 0.0
        self.reg_k = math.nan
        self.reg_s1 = 0.0
        self.reg_s2 = 0.0
        self.delay = [0] * (len(DELAY_BUCKETS) + 1)
        self.delay_sum = 0.0

    # -- updates ---------------------------------------------------------------------------------

    def add_prediction(
        self, score: float | None, sign: int = 1, *, called_positive: bool | None = None
    ) -> None:
        """Count one prediction (labelled or not), its binary score and the model's decision."""
        self.predictions += sign
        if score is not None and math.isfinite(score):
            b = score_bin(score)
            add_count(self.score_all, b, sign)
            if called_positive is not None:
                self.score_pp_n += sign
                if called_positive:
                    add_count(self.score_pp, b, sign)

    def add_delay(self, seconds: float, sign: int = 1) -> None:
        """Count one label delay (actual time minus prediction time)."""
        i = bisect.bisect_left(DELAY_BUCKETS, seconds)
        self.delay[i] += sign
        self.delay_sum += sign * seconds

    def add_row(self, row: Row, sign: int = 1) -> None:
        """Add (``sign=1``) or remove (``sign=-1``) one joined row's contribution."""
        self.labeled += sign
        if row.kind == "regression":
            self._add_regression(row.y, row.f, sign)
            return
        add_count(self.confusion, (row.true, row.pred), sign)
        if row.kind == "binary":
            s = row.score
            if s is not None and math.isfinite(s):
                add_count(self.pos if row.positive else self.neg, score_bin(s), sign)
                if row.pred_positive:
                    add_count(self.lab_pp, score_bin(s), sign)
                if 0.0 <= s <= 1.0:
                    self._add_prob(2, (1.0 - s, s), 1 if row.positive else 0, sign)
            return
        if row.scores is not None and row.classes is not None:
            for c, s in zip(row.classes, row.scores, strict=True):
                if not math.isfinite(s):
                    continue
                pos, neg = self.ovr.get(c) or self.ovr.setdefault(c, ({}, {}))
                add_count(pos if c == row.true else neg, score_bin(s), sign)
            if row.true in row.classes:
                self._add_prob(len(row.classes), row.scores, row.classes.index(row.true), sign)

    def _add_prob(self, k: int, proba: tuple[float, ...], true_index: int, sign: int) -> None:
        if self.prob_n and k != self.prob_classes:
            return  # a different class set than the window's first: not comparable
        if not all(0.0 <= q <= 1.0 for q in proba):  # also refuses NaN
            return
        # Plain floats: numpy's per-call overhead would dominate one row at a time. Same
        # definitions as ProbabilisticSums (eps clipping, Brier summed over classes).
        p_true = min(max(proba[true_index], _EPS), 1.0 - _EPS)
        brier = sum(q * q for q in proba) - 2.0 * proba[true_index] + 1.0
        self.prob_classes = k
        self.prob_n += sign
        self.log_loss += sign * -math.log(p_true)
        self.brier += sign * brier
        if self.prob_n == 0:
            self.prob_classes, self.log_loss, self.brier = 0, 0.0, 0.0

    def _add_regression(self, y: float, f: float, sign: int) -> None:
        if self.reg_n == 0 and sign > 0:
            self.reg_k = y
        err = abs(f - y)
        self.reg_n += sign
        self.reg_abs += sign * err
        self.reg_sq += sign * (y - f) ** 2
        self.reg_ape += sign * err / max(abs(y), _EPS)
        d = y - self.reg_k
        self.reg_s1 += sign * d
        self.reg_s2 += sign * d * d
        if self.reg_n == 0:
            self.reg_abs = self.reg_sq = self.reg_ape = self.reg_s1 = self.reg_s2 = 0.0
            self.reg_k = math.nan

    # -- merging ---------------------------------------------------------------------------------

    def merge_in(self, other: Cell) -> None:
        """Add ``other``'s state to this one (windows of a range, segments of a model)."""
        self.predictions += other.predictions
        for k, v in other.score_all.items():
            add_count(self.score_all, k, v)
        for k, v in other.score_pp.items():
            add_count(self.score_pp, k, v)
        self.score_pp_n += other.score_pp_n
        for k, v in other.lab_pp.items():
            add_count(self.lab_pp, k, v)
        self.labeled += other.labeled
        for key, n in other.confusion.items():
            add_count(self.confusion, key, n)
        for k, v in other.pos.items():
            add_count(self.pos, k, v)
        for k, v in other.neg.items():
            add_count(self.neg, k, v)
        for c, (opos, oneg) in other.ovr.items():
            pos, neg = self.ovr.setdefault(c, ({}, {}))
            for k, v in opos.items():
                add_count(pos, k, v)
            for k, v in oneg.items():
                add_count(neg, k, v)
        if other.prob_n and (not self.prob_n or other.prob_classes == self.prob_classes):
            self.prob_classes = other.prob_classes
            self.prob_n += other.prob_n
            self.log_loss += other.log_loss
            self.brier += other.brier
        if other.reg_n:
            if not self.reg_n:
                self.reg_k = other.reg_k
            shift = other.reg_k - self.reg_k  # re-centre other's sums on our pivot
            n = other.reg_n
            self.reg_s2 += other.reg_s2 + 2.0 * shift * other.reg_s1 + n * shift * shift
            self.reg_s1 += other.reg_s1 + n * shift
            self.reg_n += n
            self.reg_abs += other.reg_abs
            self.reg_sq += other.reg_sq
            self.reg_ape += other.reg_ape
        for i, v in enumerate(other.delay):
            self.delay[i] += v
        self.delay_sum += other.delay_sum

    def copy(self) -> Cell:
        """Return an independent copy."""
        out = Cell()
        out.merge_in(self)
        return out

    @property
    def is_empty(self) -> bool:
        """True when nothing was counted (or everything was removed again)."""
        return not (self.predictions or self.labeled or any(self.delay))

    # -- serialisation ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return a compact JSON-able dict (sparse bins)."""
        d: dict[str, Any] = {"p": self.predictions, "l": self.labeled}
        if self.score_all:
            d["sa"] = [[k, v] for k, v in self.score_all.items()]
        if self.score_pp_n:
            d["pp"] = [self.score_pp_n, [[k, v] for k, v in self.score_pp.items()]]
        if self.lab_pp:
            d["lp"] = [[k, v] for k, v in self.lab_pp.items()]
        if self.confusion:
            d["cm"] = [[t, p, n] for (t, p), n in self.confusion.items()]
        if self.pos or self.neg:
            d["sp"] = [[k, v] for k, v in self.pos.items()]
            d["sn"] = [[k, v] for k, v in self.neg.items()]
        if self.ovr:
            d["ovr"] = {
                c: [[[k, v] for k, v in p.items()], [[k, v] for k, v in n.items()]]
                for c, (p, n) in self.ovr.items()
            }
        if self.prob_n:
            d["pr"] = [self.prob_n, self.prob_classes, self.log_loss, self.brier]
        if self.reg_n:
            d["rg"] = [
                self.reg_n,
                self.reg_abs,
                self.reg_sq,
                self.reg_ape,
                self.reg_k,
                self.reg_s1,
                self.reg_s2,
            ]
        if any(self.delay):
            d["dl"] = [self.delay, self.delay_sum]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Cell:
        """Rebuild a cell written by :meth:`to_dict`."""
        c = cls()
        c.predictions, c.labeled = int(d["p"]), int(d["l"])
        c.score_all = {int(k): int(v) for k, v in d.get("sa", ())}
        if "pp" in d:
            c.score_pp_n = int(d["pp"][0])
            c.score_pp = {int(k): int(v) for k, v in d["pp"][1]}
        c.lab_pp = {int(k): int(v) for k, v in d.get("lp", ())}
        c.confusion = {(str(t), str(p)): int(n) for t, p, n in d.get("cm", ())}
        c.pos = {int(k): int(v) for k, v in d.get("sp", ())}
        c.neg = {int(k): int(v) for k, v in d.get("sn", ())}
        c.ovr = {
            str(cl): ({int(k): int(v) for k, v in p}, {int(k): int(v) for k, v in n})
            for cl, (p, n) in d.get("ovr", {}).items()
        }
        if "pr" in d:
            n, k, ll, br = d["pr"]
            c.prob_n, c.prob_classes, c.log_loss, c.brier = int(n), int(k), float(ll), float(br)
        if "rg" in d:
            n, a, s, ape, k0, s1, s2 = d["rg"]
            c.reg_n = int(n)
            c.reg_abs, c.reg_sq, c.reg_ape = float(a), float(s), float(ape)
            c.reg_k, c.reg_s1, c.reg_s2 = float(k0), float(s1), float(s2)
        if "dl" in d:
            counts, total = d["dl"]
            c.delay, c.delay_sum = [int(x) for x in counts], float(total)
        return c

    # -- reading ---------------------------------------------------------------------------------

    def confusion_counts(self) -> ConfusionCounts:
        """Return the joined rows' confusion matrix as a stats state."""
        cc = ConfusionCounts()
        if self.confusion:
            pairs = list(self.confusion.items())
            t = np.repeat([k[0] for k, _ in pairs], [n for _, n in pairs])
            p = np.repeat([k[1] for k, _ in pairs], [n for _, n in pairs])
            cc.update_many(t, p)
        return cc

    def score_histograms(self) -> ScoreHistograms:
        """Return the binary score histograms of labelled rows (positive vs negative)."""
        return ScoreHistograms(SCORE_EDGES, dense(self.pos), dense(self.neg))

    def score_counts(self) -> np.ndarray:
        """Return every prediction's score counts on :data:`SCORE_EDGES` (for CBPE)."""
        return dense(self.score_all)

    def called_positive_counts(self) -> np.ndarray | None:
        """Return the score counts of the predictions the model called positive (for CBPE).

        None when the decision of some scored prediction is unknown (cells stored before it
        was kept): the estimate then falls back to the threshold.
        """
        if self.score_pp_n != sum(self.score_all.values()):
            return None
        return dense(self.score_pp)

    def labeled_called_positive_counts(self) -> np.ndarray:
        """Return the score counts of labelled predictions the model called positive."""
        return dense(self.lab_pp)

    def regression_sums(self) -> RegressionSums:
        """Return the regression sums as a stats state."""
        n = self.reg_n
        if n <= 0:
            return RegressionSums()
        m2 = max(self.reg_s2 - self.reg_s1 * self.reg_s1 / n, 0.0)
        return RegressionSums(
            n, self.reg_abs, self.reg_sq, self.reg_ape, self.reg_k + self.reg_s1 / n, m2
        )

    def kind(self) -> str | None:
        """Return ``binary``, ``multiclass``, ``regression`` or None (nothing labelled)."""
        if self.reg_n:
            return "regression"
        if self.ovr:
            return "multiclass"
        if self.confusion:
            return "binary" if len({k for pair in self.confusion for k in pair}) <= 2 else "labels"
        return None

    def metrics(self, positive: str, binary: bool) -> dict[str, float]:
        """Return the realised metrics of the labelled rows (names in :data:`METRIC_NAMES`).

        ``binary``: precision, recall and F1 of ``positive``; otherwise their macro averages.
        """
        out: dict[str, float] = {}
        if self.reg_n:
            m = self.regression_sums().metrics()
            out.update({k: m[k] for k in ("mae", "rmse", "mape", "r2")})
        if self.confusion:
            cc = self.confusion_counts()
            out["accuracy"] = cc.accuracy()
            if binary:
                out.update(cc.binary(positive))
            else:
                macro = cc.averaged("macro")
                out.update({k: macro[k] for k in ("precision", "recall", "f1")})
        if binary and (self.pos or self.neg):
            sh = self.score_histograms()
            out["roc_auc"] = sh.roc_auc()
            out["pr_auc"] = sh.average_precision()
        elif self.ovr:
            aucs, aps = [], []
            for pos, neg in self.ovr.values():
                sh = ScoreHistograms(SCORE_EDGES, dense(pos), dense(neg))
                aucs.append(sh.roc_auc())
                aps.append(sh.average_precision())
            out["roc_auc"] = nanmean(aucs)
            out["pr_auc"] = nanmean(aps)
        if self.prob_n:
            ps = ProbabilisticSums(self.prob_classes, self.prob_n, self.log_loss, self.brier)
            out.update(ps.metrics())
        return out

    def roc_auc_bound(self) -> float:
        """Return the most by which binning can move the binary ROC AUC (nan when undefined)."""
        return self.score_histograms().roc_auc_bound()

    def coverage(self) -> float:
        """Return the share of the window's predictions that have an actual (nan when none)."""
        return ratio(self.labeled, self.predictions)
