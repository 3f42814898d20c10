"""Write a synthetic, realistic Codex + Claude Code log tree of a requested size (deterministic by seed).

    python bench/gen_corpus.py OUT --size-mb 200 [--seed 1] [--end 2026-12-01] [--days 60]

Layout: OUT/codex/{sessions/YYYY/MM/DD,archived_sessions}/rollout-*.jsonl (point CODEX_HOME at OUT/codex) and
OUT/claude/projects/<project>/<session>.jsonl plus <session>/subagents/agent-*.jsonl (CLAUDE_CONFIG_DIR=OUT/claude).
The logs carry what real ones do: several models, model switches, bulky tool output lines, re-emitted token_count
events, rate-limit-only events, streamed Claude responses logged as several lines with one message id, resumed Claude
sessions that copy earlier messages, sub-agent transcripts, sessions that span midnight or continue days later, a few
corrupt lines and partial last lines. Everything is our own synthetic text.
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

CODEX_MODELS = ["gpt-5-codex", "gpt-5.1-codex", "gpt-5.2-codex", "gpt-5", "gpt-5-mini", "gpt-5.4", "gpt-5.1-codex-mini"]
CODEX_WEIGHTS = [3, 3, 5, 2, 2, 2, 1]
CLAUDE_MODELS = [
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-5-20251101",
    "claude-haiku-4-5-20251001",
    "claude-opus-4-1-20250805",
]
CLAUDE_WEIGHTS = [6, 3, 3, 1]
_WORDS_TEXT = (
    "parser token cache model request stream buffer offset session window index scanner daemon provider  "
    "quota refresh config socket thread worker queue batch delta total input output reasoning context  "
    "budget limit schema migration store record field value error retry backoff timeout latency metric  "
    "report daily month"
)
_WORDS = _WORDS_TEXT.split()


def _dump(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class _Text:
    """Slices of a fixed pool of synthetic words (fast bulk text)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.pool = " ".join(rng.choice(_WORDS) for _ in range(60_000))

    def take(self, n: int) -> str:
        n = max(1, min(n, len(self.pool) - 1))
        start = self.rng.randrange(0, len(self.pool) - n)
        return self.pool[start : start + n]


class Generator:
    """Writes sessions until the tree reaches the requested size."""

    def __init__(self, out: Path, seed: int, end: datetime, days: int) -> None:
        self.out = out
        self.rng = random.Random(seed)
        self.text = _Text(self.rng)
        self.end = end
        self.days = days
        self.written = 0
        self.claude_sessions: list[list[str]] = []  # per project: file lines of earlier sessions to resume from

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _start(self) -> datetime:
        offset = self.rng.uniform(0, self.days * 86400.0)
        return self.end - timedelta(seconds=offset)

    def _write(self, path: Path, lines: list[str], partial: str | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(line + "\n" for line in lines)
        if partial is not None:
            data += partial
        path.write_text(data, encoding="utf-8")
        self.written += len(data.encode("utf-8"))

    # ------------------------------------------------------------------ Codex

    def codex_session(self) -> None:
        rng = self.rng
        t = self._start()
        sid = self._uuid()
        name = f"rollout-{t.strftime('%Y-%m-%dT%H-%M-%S')}-{sid}.jsonl"
        archived = rng.random() < 0.15
        base = self.out / "codex"
        path = base / "archived_sessions" / name if archived else base / "sessions" / t.strftime("%Y/%m/%d") / name
        cwd = f"/home/dev/projects/{rng.choice(_WORDS)}-{rng.randrange(40)}"
        lines = [_dump({"timestamp": _iso(t), "type": "session_meta", "payload": {
            "id": sid, "timestamp": _iso(t), "cwd": cwd, "originator": "codex_cli_rs", "cli_version": "0.0.0-synthetic",
            "source": "cli", "instructions": self.text.take(rng.randrange(1000, 4000))}})]
        total = [0, 0, 0, 0]
        model = rng.choices(CODEX_MODELS, CODEX_WEIGHTS)[0]
        ctx = rng.randrange(8000, 30000)
        for turn in range(rng.randrange(3, 40)):
            if rng.random() < 0.05:  # resumed days later in the same file
                t += timedelta(days=rng.randrange(1, 4), minutes=rng.randrange(600))
            t += timedelta(seconds=rng.uniform(20, 900))
            if turn == 0 or rng.random() < 0.08:
                model = rng.choices(CODEX_MODELS, CODEX_WEIGHTS)[0]
            lines.append(_dump({"timestamp": _iso(t), "type": "turn_context", "payload": {
                "cwd": cwd, "approval_policy": "on-request", "model": model, "effort": "medium",
                "summary": "auto"}}))
            lines.append(_dump({"timestamp": _iso(t), "type": "event_msg", "payload": {
                "type": "task_started", "turn_id": f"turn-{turn}"}}))
            lines.append(_dump({"timestamp": _iso(t), "type": "response_item", "payload": {
                "type": "message", "role": "user",
                "content": [{"type": "input_text", "text": self.text.take(rng.randrange(50, 800))}]}}))
            for _ in range(rng.randrange(1, 6)):
                t += timedelta(seconds=rng.uniform(1, 40))
                lines.append(_dump({"timestamp": _iso(t), "type": "response_item", "payload": {
                    "type": "function_call_output", "call_id": f"call_{rng.getrandbits(40):x}",
                    "output": self.text.take(rng.randrange(200, 12000))}}))
                ctx += rng.randrange(500, 6000)
                if model == "gpt-5.4" and rng.random() < 0.03:
                    ctx = rng.randrange(273_000, 320_000)  # a long-context request
                ctx = min(ctx, 258_000) if model != "gpt-5.4" else ctx
                inp = ctx
                cached = int(inp * rng.uniform(0.5, 0.95)) // 128 * 128
                out = rng.randrange(50, 3000)
                reasoning = rng.randrange(0, out)
                last = [inp, cached, out, reasoning]
                total = [a + b for a, b in zip(total, last, strict=True)]
                event = {"timestamp": _iso(t), "type": "event_msg", "payload": {"type": "token_count", "info": {
                    "total_token_usage": self._usage(total), "last_token_usage": self._usage(last),
                    "model_context_window": 272000}, "rate_limits": {"primary": {
                        "used_percent": round(rng.uniform(0, 100), 1), "window_minutes": 300,
                        "resets_in_seconds": rng.randrange(18000)}}}}
                lines.append(_dump(event))
                if rng.random() < 0.15:  # the CLI re-emits the same totals
                    t2 = t + timedelta(milliseconds=1)
                    event["timestamp"] = _iso(t2)
                    lines.append(_dump(event))
                if rng.random() < 0.05:
                    lines.append(_dump({"timestamp": _iso(t), "type": "event_msg", "payload": {
                        "type": "token_count", "info": None, "rate_limits": {"primary": {"used_percent": 7.0}}}}))
                if rng.random() < 0.01:  # a corrupt copy of a token line, cut short
                    cut = _dump(event)
                    lines.append(cut[: len(cut) // 2])
            lines.append(_dump({"timestamp": _iso(t), "type": "event_msg", "payload": {
                "type": "agent_message", "message": self.text.take(rng.randrange(40, 600))}}))
        partial = None
        if rng.random() < 0.05:
            # A big tool output being written. (ccusage 20.0.24 panics on a cut `event_msg` line without a newline,
            # parser.rs:521, so the partial line is a response_item; codexbard handles both.)
            out_line = _dump({"timestamp": _iso(t), "type": "response_item", "payload": {
                "type": "function_call_output", "output": self.text.take(rng.randrange(2000, 9000))}})
            partial = out_line[: len(out_line) // 3]
        self._write(path, lines, partial)

    @staticmethod
    def _usage(v: list[int]) -> dict[str, int]:
        return {"input_tokens": v[0], "cached_input_tokens": v[1], "output_tokens": v[2],
                "reasoning_output_tokens": v[3], "total_tokens": v[0] + v[2]}

    # ------------------------------------------------------------------ Claude

    def _claude_usage(self, inp: int, read: int, write: int, one_hour: int, out: int) -> dict[str, Any]:
        return {"input_tokens": inp, "cache_creation_input_tokens": write, "cache_read_input_tokens": read,
                "cache_creation": {"ephemeral_5m_input_tokens": write - one_hour,
                                   "ephemeral_1h_input_tokens": one_hour},
                "output_tokens": out, "service_tier": "standard"}

    def claude_lines(
        self, sid: str, t: datetime, n_turns: int, sidechain: bool, cwd: str
    ) -> tuple[list[str], datetime]:
        rng = self.rng
        lines: list[str] = []
        model = rng.choices(CLAUDE_MODELS, CLAUDE_WEIGHTS)[0]
        ctx = rng.randrange(5000, 30000)
        parent = None
        common = {"isSidechain": sidechain, "userType": "external", "cwd": cwd, "sessionId": sid,
                  "version": "2.0.14", "gitBranch": "main"}
        for _turn in range(n_turns):
            t += timedelta(seconds=rng.uniform(10, 600))
            if rng.random() < 0.1:
                model = rng.choices(CLAUDE_MODELS, CLAUDE_WEIGHTS)[0]
            uid = self._uuid()
            lines.append(_dump({"parentUuid": parent, **common, "type": "user", "message": {
                "role": "user", "content": self.text.take(rng.randrange(30, 600))}, "uuid": uid,
                "timestamp": _iso(t)}))
            parent = uid
            for _ in range(rng.randrange(1, 5)):
                t += timedelta(seconds=rng.uniform(2, 60))
                mid = f"msg_01{rng.getrandbits(96):024x}"
                rid = f"req_011{rng.getrandbits(96):024x}"
                ctx = min(ctx + rng.randrange(200, 5000), 190_000)
                write = rng.randrange(0, 4000) if rng.random() < 0.6 else 0
                one_hour = write if rng.random() < 0.1 else 0
                read = max(0, ctx - write - rng.randrange(1, 20))
                inp = rng.randrange(1, 20)
                out = rng.randrange(5, 2500)
                chunks = rng.choice([1, 1, 2, 2, 3])
                for c in range(chunks):
                    chunk_out = out if c == chunks - 1 else rng.randrange(1, max(2, out // 2))
                    aid = self._uuid()
                    content: list[dict[str, Any]] = [{"type": "text", "text": self.text.take(rng.randrange(20, 1500))}]
                    if c == chunks - 1 and rng.random() < 0.6:
                        content = [{"type": "tool_use", "id": f"toolu_{rng.getrandbits(64):x}", "name": "Read",
                                    "input": {"file_path": f"{cwd}/src/{rng.choice(_WORDS)}.py"}}]
                    lines.append(_dump({"parentUuid": parent, **common, "message": {
                        "id": mid, "type": "message", "role": "assistant", "model": model, "content": content,
                        "stop_reason": None if c < chunks - 1 else "tool_use", "stop_sequence": None,
                        "usage": self._claude_usage(inp, read, write, one_hour, chunk_out)},
                        "requestId": rid, "type": "assistant", "uuid": aid,
                        "timestamp": _iso(t + timedelta(milliseconds=300 * c))}))
                    parent = aid
                t += timedelta(seconds=rng.uniform(1, 30))
                uid = self._uuid()
                lines.append(_dump({"parentUuid": parent, **common, "type": "user", "message": {
                    "role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x",
                                                 "content": self.text.take(rng.randrange(200, 15000))}]},
                    "uuid": uid, "timestamp": _iso(t), "toolUseResult": {"type": "text"}}))
                parent = uid
        return lines, t

    def claude_session(self) -> None:
        rng = self.rng
        project_no = rng.randrange(25)
        project = f"-home-dev-projects-{_WORDS[project_no]}-{project_no}"
        cwd = "/home/dev/projects/" + project.rsplit("-", 2)[-2]
        sid = self._uuid()
        t = self._start()
        lines: list[str] = []
        earlier = [s for s in self.claude_sessions if s and s[0] == project]
        if earlier and rng.random() < 0.15:  # resumed: the new file starts with a copy of an earlier session
            src = rng.choice(earlier)
            lines.extend(src[1:])
            t = max(t, self.end - timedelta(days=self.days))
        new, t = self.claude_lines(sid, t, rng.randrange(2, 25), False, cwd)
        lines.extend(new)
        root = self.out / "claude" / "projects" / project
        if rng.random() < 0.3:
            sub, _ = self.claude_lines(sid, t - timedelta(minutes=30), rng.randrange(1, 5), True, cwd)
            self._write(root / sid / "subagents" / f"agent-{rng.getrandbits(32):08x}.jsonl", sub)
        if rng.random() < 0.02:
            lines.insert(rng.randrange(len(lines)), '{"type":"assistant","message":{"usage":{"input_tokens":')
        partial = lines[-1][: len(lines[-1]) // 2] if rng.random() < 0.05 else None
        self._write(root / f"{sid}.jsonl", lines, partial)
        if len(self.claude_sessions) < 200:
            # a resumed session copies whole responses: cut after a user line
            cut = max((i + 1 for i, x in enumerate(new[: 2 * len(new) // 3]) if '"type":"user"' in x), default=0)
            self.claude_sessions.append([project, *new[:cut]])

    def run(self, size_bytes: int) -> None:
        while self.written < size_bytes:
            if self.rng.random() < 0.5:
                self.codex_session()
            else:
                self.claude_session()


def append_activity(out: Path, nbytes: int, seed: int = 99) -> int:
    """Append about nbytes of new turns to the newest Claude session and a Codex session; return bytes written."""
    gen = Generator(out, seed, datetime.now(UTC), 1)
    claude_files = sorted((out / "claude" / "projects").rglob("*.jsonl"), key=lambda p: p.stat().st_mtime)
    written = 0
    target = claude_files[-1]
    text = target.read_bytes()
    prefix = "" if text.endswith(b"\n") else "\n"
    lines: list[str] = []
    t = datetime.now(UTC) - timedelta(hours=2)
    while sum(len(x) + 1 for x in lines) < nbytes // 2:
        new, t = gen.claude_lines("appended-session", t, 2, False, "/home/dev/projects/appended")
        lines.extend(new)
    data = prefix + "".join(x + "\n" for x in lines)
    with target.open("a", encoding="utf-8") as fh:
        fh.write(data)
    written += len(data.encode())
    codex_files = sorted((out / "codex" / "sessions").rglob("*.jsonl"))
    ctarget = codex_files[len(codex_files) // 2]
    total = [0, 0, 0, 0]
    raw = ctarget.read_bytes()
    for line in raw.split(b"\n"):
        if b'"token_count"' in line:
            try:
                obj = json.loads(line)
                usage = obj["payload"]["info"]["total_token_usage"]
                total = [usage["input_tokens"], usage["cached_input_tokens"], usage["output_tokens"],
                         usage["reasoning_output_tokens"]]
            except (ValueError, KeyError, TypeError):
                continue
    clines: list[str] = []
    rng = random.Random(seed)
    t = datetime.now(UTC) - timedelta(hours=1)
    clines.append(_dump({"timestamp": _iso(t), "type": "turn_context", "payload": {"model": "gpt-5.2-codex"}}))
    while sum(len(x) + 1 for x in clines) < nbytes // 2:
        t += timedelta(seconds=5)
        clines.append(_dump({"timestamp": _iso(t), "type": "response_item", "payload": {
            "type": "function_call_output", "output": gen.text.take(rng.randrange(500, 8000))}}))
        last = [rng.randrange(1000, 5000), 512, rng.randrange(10, 500), 0]
        total = [a + b for a, b in zip(total, last, strict=True)]
        clines.append(_dump({"timestamp": _iso(t), "type": "event_msg", "payload": {"type": "token_count", "info": {
            "total_token_usage": Generator._usage(total), "last_token_usage": Generator._usage(last)}}}))
    cprefix = "" if raw.endswith(b"\n") else "\n"
    cdata = cprefix + "".join(x + "\n" for x in clines)
    with ctarget.open("a", encoding="utf-8") as fh:
        fh.write(cdata)
    return written + len(cdata.encode())


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size-mb", type=float, default=50.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--end", default="2026-12-01T00:00:00+00:00", help="latest event instant (ISO 8601)")
    parser.add_argument("--days", type=int, default=60, help="spread sessions over this many days before --end")
    args = parser.parse_args(argv)
    end = datetime.fromisoformat(args.end)
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    gen = Generator(args.out, args.seed, end, args.days)
    gen.run(int(args.size_mb * 1024 * 1024))
    print(json.dumps({"out": str(args.out), "bytes": gen.written}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
