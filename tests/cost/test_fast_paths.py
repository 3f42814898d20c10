"""Cost scanner fast paths: chunked reads, line caps, marker search, vertex checks, slot cache and worker processes."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codexbard.cost import CostRoots, CostScanner, ScanState, corrupt_lines, timeutil
from codexbard.cost import scanner as scanner_mod
from tests.cost.helpers import Env, append, claude, dump, meta, tokens, turn, write

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from gen_corpus import Generator

FIXED_END = "2026-03-20T00:00:00+00:00"


def _corpus(base: Path, size: int, seed: int) -> Path:
    from datetime import datetime

    Generator(base, seed, datetime.fromisoformat(FIXED_END), 20).run(size)
    return base


def _scanner(corpus: Path, **kw: Any) -> CostScanner:
    roots = CostRoots(codex=(corpus / "codex" / "sessions", corpus / "codex" / "archived_sessions"),
                      claude=(corpus / "claude" / "projects",))
    return CostScanner(roots, "Europe/Berlin", clock=lambda: 1_800_000_000.0, **kw)


def _scan(corpus: Path, **kw: Any) -> tuple[ScanState, dict[str, set[str]], int]:
    scanner = _scanner(corpus, **kw)
    state, changed = scanner.scan(None)
    return state, changed, scanner.last_scan_workers


def _canonical(state: ScanState) -> str:
    """Return the state's JSON with every map in a fixed order (the parallel merge may insert in another order)."""
    raw = state.to_json()
    raw["totals"] = {p: sorted(rows) for p, rows in raw["totals"].items()}
    for f in raw["files"]:
        f["contrib"] = sorted(f["contrib"])
    return json.dumps(raw, sort_keys=True)


def _totals(state: ScanState) -> dict[str, int]:
    return {p: sum(sum(c) for c in t.values()) for p, t in state.totals.items()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield _corpus(tmp_path_factory.mktemp("corpus"), 8 << 20, 7)  # 24 files, corrupt lines, partial tails


@pytest.fixture(scope="module")
def sequential(corpus: Path) -> tuple[ScanState, dict[str, set[str]], int]:
    return _scan(corpus, workers=1)


# ---------------------------------------------------------------- worker processes


def test_small_batches_are_parsed_in_process(corpus: Path, sequential: tuple[ScanState, Any, int]) -> None:
    state, changed, workers = _scan(corpus)  # 8 MiB is below the default threshold
    assert workers == 0
    assert state == sequential[0] and changed == sequential[1]


@pytest.mark.parametrize(("method", "workers"), [("fork", 2), ("fork", 3), ("spawn", 2)])
def test_parallel_scan_gives_the_sequential_state(
    corpus: Path, sequential: tuple[ScanState, dict[str, set[str]], int], method: str, workers: int
) -> None:
    state, changed, used = _scan(corpus, workers=workers, parallel_min_bytes=0, start_method=method)
    seq_state, seq_changed, _ = sequential
    assert used == workers
    assert state == seq_state
    assert _canonical(state) == _canonical(seq_state)
    assert changed == seq_changed
    assert _totals(state) == _totals(seq_state)
    assert sum(len(f.claude_rows) for f in state.files.values()) > 100  # the corpus has keyed Claude rows
    assert (corrupt_lines(state, "claude"), corrupt_lines(state, "codex")) == (1, 12)
    assert len(state.files) == 24 and sum(1 for f in state.files.values() if f.offset < f.size) == 3


def test_parallel_cold_scan_then_incremental_rescan_matches_sequential(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "c", 1 << 20, 11)
    par = _scanner(corpus, workers=2, parallel_min_bytes=0, start_method="fork")
    seq = _scanner(corpus, workers=1)
    p_state, _ = par.scan(None)
    s_state, _ = seq.scan(None)
    target = sorted((corpus / "claude" / "projects").rglob("*.jsonl"))[0]
    append(target, [claude("2026-03-19T10:00:00Z", "claude-opus-4-5", (5, 6, 7, 8), "m-new", "r-new")])
    p_state, p_changed = par.scan(p_state)
    s_state, s_changed = seq.scan(s_state)
    assert par.last_scan_workers == 0  # one changed file: nothing new to fan out
    assert p_changed == s_changed == {"claude": {"2026-03-19"}}
    assert p_state == s_state


def test_pool_that_cannot_start_falls_back_to_in_process(
    corpus: Path, sequential: tuple[ScanState, Any, int], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def refuse(*_args: Any, **_kw: Any) -> Any:
        raise OSError("no processes here")

    monkeypatch.setattr(scanner_mod, "ProcessPoolExecutor", refuse)
    state, changed, workers = _scan(corpus, workers=2, parallel_min_bytes=0, start_method="fork")
    assert workers == 0
    assert state == sequential[0] and changed == sequential[1]
    assert [r.getMessage() for r in caplog.records] == [
        "cost scan: worker processes failed (OSError); parsing in-process"]


_CALLS = {"n": 0}


def _dying_worker(task: list[Any]) -> list[Any]:
    _CALLS["n"] += 1
    if _CALLS["n"] >= 2:  # every worker process dies on its second task
        os._exit(3)
    return scanner_mod.__dict__["_real_worker_parse"](task)


def test_worker_dying_midway_keeps_merged_files_and_parses_the_rest_in_process(
    corpus: Path, sequential: tuple[ScanState, Any, int], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setitem(scanner_mod.__dict__, "_real_worker_parse", scanner_mod._worker_parse)
    monkeypatch.setattr(scanner_mod, "_worker_parse", _dying_worker)
    # 8 MiB in tasks of 1 MiB: the first results are merged before the pool breaks
    state, changed, workers = _scan(corpus, workers=2, parallel_min_bytes=0, start_method="fork")
    assert workers == 2
    assert state == sequential[0] and changed == sequential[1]
    assert [r.getMessage() for r in caplog.records] == [
        "cost scan: worker processes failed (BrokenProcessPool); parsing in-process"]


def test_bad_worker_arguments_are_typed_errors(tmp_path: Path) -> None:
    roots = CostRoots()
    with pytest.raises(ValueError, match="workers"):
        CostScanner(roots, workers=0)
    with pytest.raises(ValueError, match="start_method"):
        CostScanner(roots, start_method="thread")


# ---------------------------------------------------------------- chunked reads and line caps


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000, 1 << 16])
def test_chunk_size_never_changes_the_result(tmp_path: Path, corpus: Path, chunk: int) -> None:
    # Tiny chunks copy the carried partial line over and over: a few files of the corpus are enough.
    small = tmp_path / "small"
    files = sorted((corpus / "claude").rglob("*.jsonl"))[:2] + sorted((corpus / "codex").rglob("*.jsonl"))[:2]
    if chunk < 64:
        files = files[:1] + files[2:3]
    for f in files:
        dest = small / f.relative_to(corpus)
        dest.parent.mkdir(parents=True, exist_ok=True)
        data = f.read_bytes()
        dest.write_bytes(data if chunk >= 64 else data[: 40_000] + b'\n{"partial":')
    expected, exp_changed, _ = _scan(small, workers=1)
    got, got_changed, _ = _scan(small, workers=1, chunk_bytes=chunk)
    assert got == expected and got_changed == exp_changed
    assert json.dumps(got.to_json()) == json.dumps(expected.to_json())
    assert sum(_totals(got).values()) > 0


def test_over_long_lines_are_skipped_and_an_over_long_tail_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scanner_mod, "CLAUDE_LINE_CAP", 400)
    monkeypatch.setattr(scanner_mod, "CODEX_LINE_CAP", 400)
    env = Env(tmp_path)
    env.scanner = CostScanner(env.scanner.roots, "UTC", chunk_bytes=128, workers=1)
    short = claude("2026-03-02T10:00:00Z", "claude-opus-4-5", (3, 0, 0, 1), "m1", "r1")
    long = claude("2026-03-02T10:00:00Z", "claude-opus-4-5", (100, 0, 0, 1), "m2", "r2" + "x" * 400)
    assert len(short) <= 400 < len(long)
    cpath = write(env.claude / "p/s.jsonl", [short, long, short.replace("m1", "m3")], tail=long)
    codex_long = tokens("2026-03-02T09:00:01Z", (50, 0, 5), (50, 0, 5)).replace('"info"', '"pad":"' + "y" * 400
                                                                                 + '","info"')
    xpath = write(env.codex / "r.jsonl", [turn("2026-03-02T09:00:00Z", "gpt-5"), codex_long,
                                           tokens("2026-03-02T09:00:02Z", (70, 0, 7), (70, 0, 7))])
    env.scan()
    assert env.tokens("claude") == {("2026-03-02", "claude-opus-4-5"): (6, 0, 0, 2)}
    # The over-long token line is skipped, so the next one counts its whole `last`.
    assert env.tokens("codex") == {("2026-03-02", "gpt-5"): (70, 0, 0, 7)}
    assert env.state is not None
    offsets = {Path(f.path).name: f.offset for f in env.state.files.values()}
    assert offsets == {"s.jsonl": cpath.stat().st_size - len(long), "r.jsonl": xpath.stat().st_size}
    with cpath.open("a", encoding="utf-8") as fh:  # the over-long partial line ends: skipped, consumed
        fh.write("\n")
    env.scan()
    assert env.tokens("claude") == {("2026-03-02", "claude-opus-4-5"): (6, 0, 0, 2)}
    assert next(f.offset for f in env.state.files.values() if f.provider == "claude") == cpath.stat().st_size


def test_a_line_exactly_at_the_cap_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    line = claude("2026-03-02T10:00:00Z", "claude-opus-4-5", (3, 0, 0, 1), "m1", "r1")
    monkeypatch.setattr(scanner_mod, "CLAUDE_LINE_CAP", len(line))
    env = Env(tmp_path)
    write(env.claude / "p/s.jsonl", [line, line.replace("m1", "m2") + " "])  # the second is one byte too long
    env.scan()
    assert env.tokens("claude") == {("2026-03-02", "claude-opus-4-5"): (3, 0, 0, 1)}


def test_codex_marker_order_and_first_session_meta(tmp_path: Path) -> None:
    env = Env(tmp_path)
    # A line holding several markers is read as the first kind of token_count, turn_context, session_meta (so the
    # turn_context naming "token_count" sets no model); only the first session_meta counts, a later one (even a
    # corrupt one) is not parsed.
    tricky_turn = dump({"timestamp": "2026-03-02T09:00:00Z", "type": "turn_context",
                        "payload": {"model": "gpt-5", "note": "token_count"}})
    write(env.codex / "r.jsonl", [
        dump({"timestamp": "2026-03-02T08:59:00Z", "type": "response_item", "payload": {"text": "session_meta"}}),
        meta("2026-03-02T08:59:30Z", "sid-1"),
        tricky_turn,
        turn("2026-03-02T09:00:01Z", "gpt-5.2-codex"),
        tokens("2026-03-02T09:00:02Z", (10, 4, 2), (10, 4, 2)),
        '{"type":"session_meta","payload":',
        tokens("2026-03-02T09:00:03Z", (30, 4, 5), (20, 0, 3)),
    ])
    env.scan()
    assert env.tokens("codex") == {("2026-03-02", "gpt-5.2-codex"): (26, 4, 0, 5)}
    assert env.state is not None
    cursor = next(iter(env.state.files.values())).codex
    assert cursor is not None and cursor.session_id == "sid-1"
    assert corrupt_lines(env.state, "codex") == 0


def test_claude_usage_lines_of_other_types_are_not_counted(tmp_path: Path) -> None:
    env = Env(tmp_path)
    user = dump({"type": "user", "timestamp": "2026-03-02T10:00:00Z",
                 "message": {"model": "claude-opus-4-5", "usage": {"input_tokens": 50}}})
    spaced = json.dumps({"type": "assistant", "timestamp": "2026-03-02T10:00:00Z",
                         "message": {"model": "claude-opus-4-5", "usage": {"input_tokens": 9}}})
    write(env.claude / "p/s.jsonl", [user, spaced, '{"type": "assistant", "usage": broken'])
    env.scan()
    assert env.tokens("claude") == {("2026-03-02", "claude-opus-4-5"): (9, 0, 0, 0)}
    assert env.state is not None and corrupt_lines(env.state, "claude") == 1


# ---------------------------------------------------------------- Vertex checks


def test_vertex_markers_in_fields_and_values(tmp_path: Path) -> None:
    env = Env(tmp_path)
    base = json.loads(claude("2026-03-02T10:00:00Z", "claude-opus-4-5", (1, 0, 0, 1), "m", "r"))

    def variant(i: int, **root: Any) -> str:
        obj = {**base, **root, "requestId": f"r{i}"}
        return dump(obj)

    write(env.claude / "p/s.jsonl", [
        variant(1, platform="Google Vertex AI"),  # a provider-ish key naming Vertex
        variant(2, gcpProject="demo"),  # a key naming GCP
        variant(3, metadata={"backend": {"vertexRegion": "eu"}}),  # nested under metadata
        variant(4, note="vertex"),  # the word in an unrelated field: counted
        variant(5, platform="anthropic"),  # counted
        variant(6, platform={"name": "vertex"}),  # an object value is not read as a provider name: counted
        variant(7, **{"VERTEX_Hint": True}),
    ])
    env.scan()
    assert env.tokens("claude") == {("2026-03-02", "claude-opus-4-5"): (3, 0, 0, 3)}


def test_vertex_key_seen_only_through_an_escape_is_not_excluded(tmp_path: Path) -> None:
    # The raw line must carry a hint too: a key spelled with a JSON escape has none, as before.
    env = Env(tmp_path)
    line = claude("2026-03-02T10:00:00Z", "claude-opus-4-5", (1, 0, 0, 1), "m", "r")
    line = line[:-1] + ',"\\u0076ertexZone":"x"}'
    write(env.claude / "p/s.jsonl", [line])
    env.scan()
    assert env.tokens("claude") == {("2026-03-02", "claude-opus-4-5"): (1, 0, 0, 1)}


# ---------------------------------------------------------------- Codex repeats and slots


def test_codex_seen_totals_window_of_64(tmp_path: Path) -> None:
    env = Env(tmp_path)
    lines = [turn("2026-03-02T09:00:00Z", "gpt-5")]
    for i in range(1, 67):
        lines.append(tokens("2026-03-02T09:00:01Z", (i * 10, 0, i), (10, 0, 1)))
    lines.append(tokens("2026-03-02T09:00:02Z", (20, 0, 2), (10, 0, 1)))  # event 2's total: left the window
    lines.append(tokens("2026-03-02T09:00:03Z", (600, 0, 60), (10, 0, 1)))  # event 60's total: a repeat
    path = write(env.codex / "r.jsonl", lines)
    env.scan()
    assert env.tokens("codex") == {("2026-03-02", "gpt-5"): (660, 0, 0, 66)}
    # Resuming from serialised state rebuilds the set mirror of the window.
    assert env.state is not None
    env.state = ScanState.from_json(json.loads(json.dumps(env.state.to_json())))
    cursor = next(iter(env.state.files.values())).codex
    assert cursor is not None and cursor.seen_keys is None and len(cursor.seen) == 64
    append(path, [tokens("2026-03-02T09:00:04Z", (610, 0, 61), (10, 0, 1)),
                  tokens("2026-03-02T09:00:05Z", (700, 0, 70), (10, 0, 1))])
    env.scan()
    assert env.tokens("codex") == {("2026-03-02", "gpt-5"): (670, 0, 0, 67)}


def test_slot_minute_cache_is_bounded_and_keeps_invalid_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timeutil, "_MINUTE_CACHE", 3)
    timeutil._SLOT_BY_MINUTE.clear()
    assert timeutil.slot_of("2026-03-02T09:14:03.512Z") == 1_969_380
    assert timeutil.slot_of("2026-03-02T09:29:59.999Z") == 1_969_381
    assert timeutil.slot_of("2026-02-30T09:14:03.512Z") is None
    assert timeutil.slot_of("2026-03-02T24:00:00.000Z") is None
    assert len(timeutil._SLOT_BY_MINUTE) == 1  # cleared when full, then one entry
    assert timeutil.slot_of("2026-03-02T24:00:59.000Z") is None  # cached answer for the same minute
    assert timeutil.slot_of("2026-03-02T09:15:00Z") == 1_969_381


# ---------------------------------------------------------------- the chunk reader


def _blocks(data: bytes, cap: int, chunk: int, expect: int = -1) -> tuple[list[bytes], int]:
    import io

    reader = scanner_mod._Blocks(io.BytesIO(data), cap, chunk, expect)
    lines = [line for buf, end in reader for line in buf[:end].split(b"\n")[:-1]]
    return lines, reader.consumed


@pytest.mark.parametrize("chunk", [1, 3, 8, 1 << 20])
@pytest.mark.parametrize("expect", [-1, 0, 4, 10_000])
def test_blocks_yield_whole_lines_and_count_only_complete_ones(chunk: int, expect: int) -> None:
    data = b"ab\ncdef\n\nghijklmnop\nqr\npartial"
    lines, consumed = _blocks(data, cap=100, chunk=chunk, expect=expect)
    assert lines == [b"ab", b"cdef", b"", b"ghijklmnop", b"qr"]
    assert consumed == len(data) - len(b"partial")


@pytest.mark.parametrize("chunk", [1, 4, 5, 6, 1 << 20])
def test_blocks_skip_a_carried_line_past_the_cap_without_keeping_it(chunk: int) -> None:
    data = b"abc\n" + b"x" * 20 + b"\nlast\n" + b"y" * 30
    lines, consumed = _blocks(data, cap=5, chunk=chunk)
    # An over-long line inside a chunk is handed on (the parser skips it); one that outgrows the carry is dropped.
    assert [x for x in lines if len(x) <= 5] == [b"abc", b"last"]
    assert consumed == len(data) - 30  # the over-long tail has no newline yet: not consumed
