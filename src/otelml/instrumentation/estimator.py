"""``otelml.instrument(estimator)``: an observed proxy of a scikit-learn-style estimator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from otelml.instrumentation.config import ConfigError, env_bool, make_config
from otelml.instrumentation.observe import wrap
from otelml.instrumentation.observer import Observer, baseline_bins

E = TypeVar("E")
METHODS = ("predict", "predict_proba", "decision_function")


def _task_of(estimator: Any) -> str:
    classes = getattr(estimator, "classes_", None)
    if classes is not None:
        return "binary_classification" if len(classes) == 2 else "multiclass_classification"
    if getattr(estimator, "_estimator_type", None) == "regressor":
        return "regression"
    try:
        tags = estimator.__sklearn_tags__()
        if tags.estimator_type == "regressor":
            return "regression"
    except Exception:
        pass
    return "other"


class InstrumentedEstimator(Generic[E]):
    """Delegates everything to ``estimator``; its predict methods are observed.

    ``feature_names_in_`` of the estimator names the columns of numpy inputs, read at each call
    so that an estimator fitted after instrumentation is handled too.
    """

    def __init__(self, estimator: E, observers: dict[str, Any]) -> None:
        self.estimator = estimator
        self._otelml_methods = observers

    def __getattr__(self, name: str) -> Any:
        methods = self.__dict__.get("_otelml_methods", {})
        if name in methods:
            return methods[name]
        return getattr(self.__dict__["estimator"], name)

    def __repr__(self) -> str:
        return f"InstrumentedEstimator({self.estimator!r})"


def instrument(
    estimator: E,
    *,
    model: str,
    version: str | None = None,
    methods: Sequence[str] = METHODS,
    **options: Any,
) -> InstrumentedEstimator[E]:
    """Return a proxy of ``estimator`` whose ``predict``, ``predict_proba`` and
    ``decision_function`` are observed like ``@otelml.observe`` functions.

    ``options`` are those of :func:`otelml.observe`; ``task`` and ``classes`` default to what
    the fitted estimator says (``classes_``). Unlike ``observe``, ``log_predictions`` defaults
    to True: every call emits one ``ml.prediction`` record per row, with ids from ``id_from``
    or generated ones that :func:`otelml.last_prediction_ids` returns for ``record_actuals``.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"methods: unknown method(s) {unknown}; choose from {list(METHODS)}")
    options.setdefault("task", _task_of(estimator))
    # An estimator's predictions are what ground truth is joined to: emit prediction records
    # (with generated ids, see last_prediction_ids) unless the caller or the env says no.
    if options.get("log_predictions") is None:
        options["log_predictions"] = env_bool("OTELML_LOG_PREDICTIONS", True)
    classes = getattr(estimator, "classes_", None)
    if classes is not None:
        options.setdefault("classes", [str(c) for c in classes])
    given_names = options.get("feature_names")

    def names() -> Sequence[str] | None:
        if given_names is not None:
            return list(given_names)
        found = getattr(estimator, "feature_names_in_", None)
        return None if found is None else [str(n) for n in found]

    cfg = make_config(model=model, version=version, **options)
    bins = baseline_bins(cfg.baseline)
    observers: dict[str, Any] = {}
    for method in methods:
        fn = getattr(estimator, method, None)
        if fn is not None:
            obs = Observer(cfg, fn, feature_names=names, skip_first=False, bins=bins)
            observers[method] = wrap(fn, obs)
    return InstrumentedEstimator(estimator, observers)
