"""A small client of the processor's HTTP API and ``/metrics``, on the standard library only.

The demo and ``otelml report --url`` read everything they show through the same surface a
user's tools would use (the JSON API and the Prometheus exposition), never through the
processor's Python objects, so what they show is what ``curl`` and Prometheus would see.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

TIMEOUT_S = 10.0
TOKEN_ENV = "OTELML_API_TOKEN"
"""Environment variable of the bearer token sent to a processor that requires one."""


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status and decoded JSON body (None when not JSON)."""

    status: int
    body: Any

    @property
    def ok(self) -> bool:
        """Return whether the status is 2xx."""
        return 200 <= self.status < 300


class ApiClient:
    """JSON API and ``/metrics`` of one processor at ``base_url`` (``http://host:port``).

    ``environment`` (None: the processor's choice, ``production`` when it has data there) is
    sent with every model-scoped read. ``token`` (default: ``$OTELML_API_TOKEN``) is sent as
    ``Authorization: Bearer`` to a processor with tokens; an ``https`` URL checks the
    certificate against the system's roots, or ``$SSL_CERT_FILE``.
    """

    def __init__(
        self,
        base_url: str,
        timeout_s: float = TIMEOUT_S,
        environment: str | None = None,
        token: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.environment = environment
        self.token = token if token is not None else os.environ.get(TOKEN_ENV) or None

    def _query(self, **params: str) -> str:
        if self.environment is not None:
            params["environment"] = self.environment
        return "?" + urllib.parse.urlencode(params) if params else ""

    def _request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        req = urllib.request.Request(self.base_url + path, data=body, method=method)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.read()

    def call(self, method: str, path: str, body: bytes | None = None) -> Answer:
        """Return the answer to ``method path``; network errors raise ``OSError``."""
        status, raw = self._request(method, path, body)
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = None
        return Answer(status, decoded)

    def get(self, path: str) -> Answer:
        """Return the answer to ``GET path``."""
        return self.call("GET", path)

    def model_path(self, model: str, version: str) -> str:
        """Return ``/api/v1/models/{model}/versions/{version}`` with both parts quoted."""
        q = urllib.parse.quote
        return f"/api/v1/models/{q(model, safe='')}/versions/{q(version, safe='')}"

    def put_baseline(self, model: str, version: str, baseline_json: str) -> Answer:
        """Upload a baseline document for ``model`` ``version``."""
        path = self.model_path(model, version) + "/baseline"
        return self.call("PUT", path, baseline_json.encode("utf-8"))

    def evaluate(self) -> Answer:
        """Ask the processor to evaluate every model now."""
        return self.call("POST", "/api/v1/evaluate", b"")

    def models(self) -> Answer:
        """Return every model with data, its versions and their environments."""
        return self.get("/api/v1/models")

    def baseline(self, model: str, version: str) -> Answer:
        """Return the baseline that applies to a model version (404 when there is none)."""
        return self.get(self.model_path(model, version) + "/baseline")

    def status(self, model: str, version: str) -> Answer:
        """Return the latest evaluation of a model version (404 before the first one)."""
        return self.get(self.model_path(model, version) + "/status" + self._query())

    def performance(self, model: str, version: str) -> Answer:
        """Return the model version's performance (404 when the processor has no such route)."""
        return self.get(self.model_path(model, version) + "/performance" + self._query())

    def history(self, model: str, version: str, feature: str) -> Answer:
        """Return a feature's drift figures over the evaluations so far (oldest first)."""
        path = self.model_path(model, version) + "/features/"
        return self.get(path + urllib.parse.quote(feature, safe="") + "/history" + self._query())

    def metrics_text(self) -> str:
        """Return the Prometheus exposition of ``/metrics``."""
        status, raw = self._request("GET", "/metrics")
        if status != 200:
            raise OSError(f"/metrics answered HTTP {status}")
        return raw.decode("utf-8")


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def _unescape(value: str) -> str:
    return value.replace(r"\"", '"').replace(r"\n", "\n").replace("\\\\", "\\")


def samples(text: str, prefix: str = "") -> Iterator[tuple[str, dict[str, str], float]]:
    """Yield ``(name, labels, value)`` of every sample in a Prometheus text exposition."""
    for line in text.splitlines():
        if not line or line.startswith("#") or not line.startswith(prefix):
            continue
        m = _SAMPLE.match(line)
        if m is None:
            continue
        labels = {k: _unescape(v) for k, v in _LABEL.findall(m.group(2) or "")}
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        yield m.group(1), labels, value
