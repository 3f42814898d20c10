"""Builders of synthetic Codex and Claude log lines for the cost tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codexbard.cost import CostRoots, CostScanner, Pricing, ScanState, cost_report


def dump(obj: dict[str, Any]) -> str:
    """Return compact JSON as the CLIs write it."""
    return json.dumps(obj, separators=(",", ":"))


def usage(i: int, c: int, o: int, r: int = 0) -> dict[str, int]:
    """Return a Codex usage object."""
    return {"input_tokens": i, "cached_input_tokens": c, "output_tokens": o, "reasoning_output_tokens": r,
            "total_tokens": i + o}


def meta(ts: str, sid: str = "sess-1", **extra: Any) -> str:
    """Return a Codex session_meta line."""
    return dump({"timestamp": ts, "type": "session_meta", "payload": {"id": sid, "timestamp": ts, **extra}})


def turn(ts: str, model: str) -> str:
    """Return a Codex turn_context line."""
    return dump({"timestamp": ts, "type": "turn_context", "payload": {"cwd": "/w", "model": model}})


def tokens(ts: str, total: tuple[int, ...] | None, last: tuple[int, ...] | None) -> str:
    """Return a Codex token_count line."""
    info: dict[str, Any] = {}
    if total is not None:
        info["total_token_usage"] = usage(*total)
    if last is not None:
        info["last_token_usage"] = usage(*last)
    return dump({"timestamp": ts, "type": "event_msg", "payload": {"type": "token_count", "info": info}})


def claude(ts: str, model: str, u: tuple[int, int, int, int], mid: str | None = None, rid: str | None = None,
           side: bool = False, one_hour: int = 0) -> str:
    """Return a Claude assistant line; u = (input, cache read, cache write, output)."""
    msg: dict[str, Any] = {"model": model, "usage": {
        "input_tokens": u[0], "cache_read_input_tokens": u[1], "cache_creation_input_tokens": u[2],
        "cache_creation": {"ephemeral_5m_input_tokens": u[2] - one_hour, "ephemeral_1h_input_tokens": one_hour},
        "output_tokens": u[3]}}
    if mid is not None:
        msg["id"] = mid
    line: dict[str, Any] = {"type": "assistant", "isSidechain": side, "sessionId": "s", "timestamp": ts,
                            "message": msg}
    if rid is not None:
        line["requestId"] = rid
    return dump(line)


def write(path: Path, lines: list[str], tail: str = "") -> Path:
    """Write lines (newline-terminated) plus an optional partial tail."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(x + "\n" for x in lines) + tail, encoding="utf-8")
    return path


def append(path: Path, lines: list[str], tail: str = "") -> None:
    """Append lines to a file."""
    with path.open("a", encoding="utf-8") as fh:
        fh.write("".join(x + "\n" for x in lines) + tail)


class Env:
    """A temporary Codex home and Claude projects dir with a scanner over them."""

    def __init__(self, base: Path, tz: str = "UTC") -> None:
        self.codex = base / "codex" / "sessions"
        self.archived = base / "codex" / "archived_sessions"
        self.claude = base / "claude" / "projects"
        self.tz = tz
        self.scanner = CostScanner(CostRoots(codex=(self.codex, self.archived), claude=(self.claude,)), tz,
                                   clock=lambda: 1_800_000_000.0)
        self.state: ScanState | None = None

    def scan(self) -> dict[str, set[str]]:
        """Scan into the env's state; return the changed days."""
        self.state, changed = self.scanner.scan(self.state)
        return changed

    def days(self, provider: str, pricing: Pricing | None = None) -> dict[str, dict[str, Any]]:
        """Return {date: {model: breakdown}} over all days."""
        from datetime import UTC, datetime

        report = cost_report(self.state, provider, pricing=pricing or Pricing(), tz=self.tz,  # type: ignore[arg-type]
                             now=datetime(2030, 1, 1, tzinfo=UTC), period="all")
        return {r["date"]: {m["modelName"]: m for m in r["modelBreakdowns"]} for r in report["daily"]}

    def tokens(self, provider: str) -> dict[tuple[str, str], tuple[int, int, int, int]]:
        """Return {(date, model): (input, cache read, cache creation, output)}."""
        return {
            (d, m): (b["inputTokens"], b["cacheReadTokens"], b["cacheCreationTokens"], b["outputTokens"])
            for d, models in self.days(provider).items()
            for m, b in models.items()
        }
