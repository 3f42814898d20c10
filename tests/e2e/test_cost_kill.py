"""End to end: `codexbard serve` killed with SIGKILL during a cold cost scan, then restarted, gives the totals of
a clean scan; the scan's worker process does not outlive the daemon."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codexbard.providers.registry import default_registry
from tests.e2e.test_daemon import Daemon, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


def _saved_generation(database: Path) -> int:
    if not database.exists():
        return 0
    with sqlite3.connect(database) as conn:
        try:
            rows = conn.execute("SELECT generation FROM cost_scan_state").fetchall()
        except sqlite3.OperationalError:
            return 0
    return int(rows[0][0]) if rows else 0


def _without_time(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in b.items() if k != "updatedAt"} for b in blocks]


def test_sigkill_during_a_scan_then_restart_equals_a_clean_scan(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_corpus.py"), str(corpus), "--size-mb", "240",
                    "--seed", "7"], check=True, capture_output=True, timeout=120)
    logs = {"CODEX_HOME": str(corpus / "codex"), "CLAUDE_CONFIG_DIR": str(corpus / "claude"), "TZ": "UTC"}
    home = tmp_path / "home-e2e"
    home.mkdir()
    d = Daemon(home, free_port(), logs)
    try:
        proc = d.start()
        d.wait_ready()
        worker = d.wait_for(lambda: next((c for c in _children(proc.pid) if "spawn_main" in _cmdline(c)), None))
        # Past its imports (about 0.3 s of CPU) and well into reading the corpus, which takes seconds.
        d.wait_for(lambda: _cpu_ticks(worker) >= 50, timeout=30)
        assert _saved_generation(d.database) == 0, "the scan finished before the kill; use a bigger corpus"
        d.stop()  # SIGKILL
        d.wait_for(lambda: not _alive(worker), timeout=5)  # killed with its parent, before saving anything
        assert _saved_generation(d.database) == 0

        d.start()
        d.wait_ready()
        body = d.wait_for(lambda: (lambda b: b if b[0]["updatedAt"] else None)(d.get("/cost?period=all").json()),
                          timeout=120)
        assert _saved_generation(d.database) == 1
        usage = d.get("/usage?provider=all").json()
    finally:
        d.stop()

    clean_home = tmp_path / "clean"
    clean_home.mkdir()
    clean = Daemon(clean_home, free_port(), logs)
    result = clean.run("cost", "--period", "all", "--format", "json", timeout=120)
    assert result.returncode == 0, result.stderr
    expected = json.loads(result.stdout)
    assert _without_time(body) == _without_time(expected)
    assert sum(day["totalTokens"] for day in expected[0]["daily"]) > 0
    assert sum(day["totalTokens"] for day in expected[1]["daily"]) > 0
    # `cost` is keyed by provider id: set for codex and claude (when registered), null for every other provider.
    costs = {p["provider"]: p["cost"] for p in usage}
    assert set(costs) == set(default_registry().ids())
    for provider, cost in costs.items():
        if provider in ("codex", "claude"):
            assert cost is not None and cost["source"] == "local" and isinstance(cost["last30DaysTokens"], int)
        else:
            assert cost is None
