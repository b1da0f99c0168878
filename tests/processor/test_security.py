"""Bearer tokens by scope, token files re-read on change, same-origin checks, their options."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pki
from otelml.processor.config import AuthConfig, ConfigError, config_from_dict
from otelml.processor.security import Tokens, Verdict, host_is_loopback, same_origin
from otelml.processor.security.origin import is_loopback_bind


def test_each_scope_grants_what_it_should() -> None:
    tokens = Tokens({"ingest": ["ing"], "read": ["rd"], "write": ["wr"]})
    table = {
        (t, s): tokens.check(f"Bearer {t}", s)  # type: ignore[arg-type]
        for t in ("ing", "rd", "wr")
        for s in ("ingest", "read", "write")
    }
    assert table == {
        ("ing", "ingest"): Verdict.OK,
        ("ing", "read"): Verdict.FORBIDDEN,
        ("ing", "write"): Verdict.FORBIDDEN,
        ("rd", "ingest"): Verdict.FORBIDDEN,
        ("rd", "read"): Verdict.OK,
        ("rd", "write"): Verdict.FORBIDDEN,
        ("wr", "ingest"): Verdict.OK,
        ("wr", "read"): Verdict.OK,
        ("wr", "write"): Verdict.OK,
    }


@pytest.mark.parametrize(
    ("header", "verdict"),
    [
        (None, Verdict.MISSING),
        ("", Verdict.MISSING),
        ("Basic d3I6", Verdict.MISSING),
        ("Bearer", Verdict.MISSING),
        ("Bearer wr", Verdict.OK),
        ("bearer  wr ", Verdict.OK),
        ("Bearer wrong", Verdict.INVALID),
        ("Bearer w", Verdict.INVALID),
        ("Bearer wrr", Verdict.INVALID),
        ("Bearer wé", Verdict.INVALID),
    ],
)
def test_authorization_header_is_parsed_strictly(header: str | None, verdict: Verdict) -> None:
    assert Tokens({"write": ["wr"]}).check(header, "write") is verdict


def test_two_tokens_are_valid_at_once_for_rotation() -> None:
    tokens = Tokens.from_config(AuthConfig(write_tokens="old-token, new-token"))
    assert tokens.check("Bearer old-token", "write") is Verdict.OK
    assert tokens.check("Bearer new-token", "write") is Verdict.OK
    assert tokens.check("Bearer other", "write") is Verdict.INVALID


def test_listeners_are_protected_by_the_scopes_that_reach_them() -> None:
    assert not Tokens().protects("otlp")
    assert not Tokens().protects("api")
    ingest = Tokens({"ingest": ["a"]})
    assert ingest.protects("otlp")
    assert not ingest.protects("api")
    read = Tokens({"read": ["a"]})
    assert read.protects("api")
    assert not read.protects("otlp")
    write = Tokens({"write": ["a"]})
    assert write.protects("api")
    assert write.protects("otlp")


def test_token_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "write-tokens"
    path.write_text("# rotated monthly\nfirst-token\n\n")
    now = [0.0]
    tokens = Tokens(files={"write": [path]}, file_check_interval_s=1.0, clock=lambda: now[0])
    assert tokens.check("Bearer first-token", "write") is Verdict.OK

    path.write_text("first-token\nsecond-token\n")  # rotation: both valid for a while
    os.utime(path, ns=(1, 1))
    now[0] = 0.5  # within the check interval: the file is not looked at
    assert tokens.check("Bearer second-token", "write") is Verdict.INVALID
    now[0] = 1.5
    assert tokens.check("Bearer second-token", "write") is Verdict.OK
    assert tokens.check("Bearer first-token", "write") is Verdict.OK

    path.write_text("second-token\n")
    os.utime(path, ns=(2, 2))
    now[0] = 3.0
    assert tokens.check("Bearer first-token", "write") is Verdict.INVALID

    path.unlink()  # a secret being swapped: the last tokens stay
    now[0] = 5.0
    assert tokens.check("Bearer second-token", "write") is Verdict.OK


def test_emptied_token_file_refuses_everyone_instead_of_opening_up(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("t0k3n\n")
    now = [0.0]
    tokens = Tokens(files={"read": [path]}, clock=lambda: now[0])
    assert tokens.check("Bearer t0k3n", "read") is Verdict.OK
    path.write_text("")
    now[0] = 10.0
    assert tokens.protects("api")
    assert tokens.check("Bearer t0k3n", "read") is Verdict.INVALID


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1:9464", True),
        ("127.3.2.1", True),
        ("localhost:9464", True),
        ("LOCALHOST.", True),
        ("app.localhost:1", True),
        ("[::1]:9464", True),
        (None, True),
        ("evil.example:9464", False),
        ("10.0.0.1:9464", False),
        ("127.0.0.1.evil.example", False),
        ("", False),
    ],
)
def test_loopback_host_names(host: str | None, ok: bool) -> None:
    assert host_is_loopback(host) is ok


def test_loopback_binds() -> None:
    assert is_loopback_bind("127.0.0.1:9464")
    assert is_loopback_bind("[::1]:1")
    assert is_loopback_bind("localhost:0")
    assert not is_loopback_bind("0.0.0.0:9464")
    assert not is_loopback_bind("[::]:9464")


@pytest.mark.parametrize(
    ("origin", "host", "ok"),
    [
        ("http://127.0.0.1:9464", "127.0.0.1:9464", True),
        ("https://otelml.example", "otelml.example", True),
        ("http://otelml.example:80", "OTELML.example", True),
        ("https://otelml.example", "otelml.example:443", True),
        ("http://evil.example", "127.0.0.1:9464", False),
        ("http://127.0.0.1:8000", "127.0.0.1:9464", False),
        ("null", "127.0.0.1:9464", False),
        ("http://127.0.0.1:9464", None, False),
    ],
)
def test_same_origin(origin: str, host: str | None, ok: bool) -> None:
    assert same_origin(origin, host) is ok


def _errors(data: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)
    return info.value.errors


def test_auth_and_tls_options_are_validated_with_their_paths(tmp_path: Path) -> None:
    bad_file = tmp_path / "tokens"
    bad_file.write_text("good-token\nhas space\n")
    errors = _errors(
        {
            "auth": {
                "write_tokens": "ok,not ok",
                "read_tokens_file": str(tmp_path / "missing"),
                "ingest_tokens_file": str(bad_file),
            },
            "receivers": {
                "grpc": {"tls": {"cert_file": str(tmp_path / "cert.pem")}},
                "http": {"tls": {"client_ca_file": str(tmp_path / "ca.pem")}},
            },
            "export": {
                "prometheus": {
                    "tls": {
                        "cert_file": str(tmp_path / "nope.pem"),
                        "key_file": str(tmp_path / "nope.key"),
                    }
                }
            },
        }
    )
    text = "\n".join(errors)
    assert "auth.write_tokens: 'not '... is not a bearer token" in text
    assert "auth.read_tokens_file: cannot read" in text
    assert f"auth.ingest_tokens_file: {str(bad_file)!r} line 2: not a bearer token" in text
    assert "receivers.grpc.tls.key_file: required with receivers.grpc.tls.cert_file" in text
    assert "receivers.http.tls.client_ca_file: needs receivers.http.tls.cert_file" in text
    assert "export.prometheus.tls.cert_file: no such file" in text
    assert "export.prometheus.tls.key_file: no such file" in text


def test_tls_files_that_do_not_belong_together_are_refused(tmp_path: Path) -> None:
    a = pki.make_pki(tmp_path / "a")
    errors = _errors(
        {
            "receivers": {
                "grpc": {"tls": {"cert_file": str(a.server_cert), "key_file": str(a.client_key)}}
            }
        }
    )
    assert len(errors) == 1
    assert errors[0].startswith("receivers.grpc.tls.cert_file: cannot use")
    good = config_from_dict(
        {
            "receivers": {
                "grpc": {
                    "tls": {
                        "cert_file": str(a.server_cert),
                        "key_file": str(a.server_key),
                        "client_ca_file": str(a.ca),
                    }
                }
            }
        }
    )
    assert good.receivers.grpc.tls.client_ca_file == str(a.ca)
