"""Docs stay true: links resolve, and code blocks marked runnable run.

A fenced block preceded by the line ``<!-- runnable -->`` is executed: ``python`` blocks with
this interpreter, ``bash`` blocks with bash (``otelml`` resolves to this environment's command),
each in a fresh temporary directory.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(
    [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "collector").glob("*.md")]
)
LINK = re.compile(r"\[[^\]]*\]\(([^)#\s]+)(?:#[^)]*)?\)")
RUNNABLE = re.compile(r"<!-- runnable -->\n```(python|bash)\n(.*?)\n```", re.DOTALL)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    broken = [
        target
        for target in LINK.findall(text)
        if "://" not in target
        and not target.startswith("mailto:")
        and not (page.parent / target).exists()
    ]
    assert not broken, f"{page.name}: broken links {broken}"


def _blocks() -> list[tuple[str, str, str]]:
    found = []
    for page in PAGES:
        for i, (lang, code) in enumerate(RUNNABLE.findall(page.read_text(encoding="utf-8"))):
            found.append((f"{page.relative_to(ROOT)}#{i}", lang, code))
    return found


def test_some_blocks_are_marked_runnable() -> None:
    assert len(_blocks()) >= 2


@pytest.mark.parametrize(("where", "lang", "code"), _blocks(), ids=lambda v: str(v)[:40])
def test_runnable_block_runs(where: str, lang: str, code: str, tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    cmd = (
        [sys.executable, "-c", code]
        if lang == "python"
        else ["bash", "-euo", "pipefail", "-c", code]
    )
    done = subprocess.run(
        cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, f"{where} failed:\n{done.stdout}\n{done.stderr}"
