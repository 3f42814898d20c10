"""Cost scanner: line formats, de-duplication, day buckets and incremental file handling, with exact counts."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from codexbard.cost import CostScanner, ScanState, corrupt_lines
from tests.cost.helpers import Env, append, claude, meta, tokens, turn, write

SPEC_CODEX = [
    meta("2026-03-02T09:14:03.512Z", "0c4e2a7e"),
    turn("2026-03-02T09:14:05.020Z", "gpt-5.2-codex"),
    tokens("2026-03-02T09:14:21.877Z", (18250, 12800, 940, 512), (18250, 12800, 940, 512)),
    tokens("2026-03-02T09:14:21.878Z", (18250, 12800, 940, 512), (18250, 12800, 940, 512)),
    tokens("2026-03-02T09:15:02.311Z", (39010, 30464, 1702, 896), (20760, 17664, 762, 384)),
    json.dumps({"timestamp": "2026-03-02T09:15:02.400Z", "type": "event_msg",
                "payload": {"type": "token_count", "info": None}}, separators=(",", ":")),
]


def test_codex_sheet_example_counts_each_request_once(tmp_path: Path) -> None:
    env = Env(tmp_path)
    write(env.codex / "2026/03/02/rollout-a.jsonl", SPEC_CODEX)
    assert env.scan() == {"codex": {"2026-03-02"}}
    day = env.days("codex")["2026-03-02"]["gpt-5.2-codex"]
    assert (day["inputTokens"], day["cacheReadTokens"], day["outputTokens"], day["totalTokens"]) == (
        8546, 30464, 1702, 40712)
    assert day["cost"] == 0.0441147


def test_codex_model_switch_normalisation_and_filters(tmp_path: Path) -> None:
    env = Env(tmp_path)
    write(env.codex / "2026/03/02/r.jsonl", [
        meta("2026-03-02T09:00:00Z"),
        tokens("2026-03-02T09:00:01Z", (100, 0, 10), (100, 0, 10)),  # no model yet -> unknown
        turn("2026-03-02T09:00:02Z", "openai/gpt-5.2-codex"),
        tokens("2026-03-02T09:00:03Z", (300, 100, 30), (200, 100, 20)),
        turn("2026-03-02T09:00:04Z", "deepseek/deepseek-v3"),
        tokens("2026-03-02T09:00:05Z", (1300, 100, 130), (1000, 0, 100)),  # excluded
        turn("2026-03-02T09:00:06Z", "gpt-5-mini-2025-08-07"),
        tokens("2026-03-02T09:00:07Z", (1310, 105, 131), (10, 5, 1)),
    ])
    env.scan()
    assert env.tokens("codex") == {
        ("2026-03-02", "unknown"): (100, 0, 0, 10),
        ("2026-03-02", "gpt-5.2-codex"): (100, 100, 0, 20),
        ("2026-03-02", "gpt-5-mini"): (5, 5, 0, 1),
    }
    days = env.days("codex")["2026-03-02"]
    assert days["unknown"]["cost"] is None
    from datetime import UTC, datetime

    from codexbard.cost import Pricing, cost_report

    report = cost_report(env.state, "codex", pricing=Pricing(), now=datetime(2026, 3, 2, 12, tzinfo=UTC))
    assert report["daily"][0]["unpricedTokens"] == 110
    assert report["sessionTokens"] == 110 + 220 + 11


def test_codex_only_last_and_only_total_events(tmp_path: Path) -> None:
    env = Env(tmp_path)
    write(env.codex / "r.jsonl", [
        turn("2026-03-02T09:00:00Z", "gpt-5"),
        tokens("2026-03-02T09:00:01Z", None, (100, 50, 10)),
        tokens("2026-03-02T09:00:02Z", None, (100, 50, 10)),
        tokens("2026-03-02T09:00:03Z", (400, 200, 40), None),
    ])
    env.scan()
    # last-only events both count (no totals to compare); the total-only event adds total - watermark.
    assert env.tokens("codex") == {("2026-03-02", "gpt-5"): (200, 200, 0, 40)}


def test_codex_fork_copied_history_not_counted(tmp_path: Path) -> None:
    env = Env(tmp_path)
    write(env.codex / "child.jsonl", [
        meta("2026-03-02T11:00:00.000Z", "child", forked_from_id="parent"),
        turn("2026-03-02T09:00:00Z", "gpt-5"),
        tokens("2026-03-02T09:00:01Z", (1000, 0, 100), (1000, 0, 100)),  # copied from the parent
        tokens("2026-03-02T11:00:05Z", (1500, 0, 150), (500, 0, 50)),
    ])
    env.scan()
    assert env.tokens("codex") == {("2026-03-02", "gpt-5"): (500, 0, 0, 50)}


SPEC_CLAUDE = [
    json.dumps({"type": "user", "timestamp": "2026-03-02T10:01:10.001Z", "message": {"role": "user"}}),
    claude("2026-03-02T10:01:12.345Z", "claude-sonnet-4-5-20250929", (6, 31000, 2400, 12), "msg_a", "req_b"),
    claude("2026-03-02T10:01:14.900Z", "claude-sonnet-4-5-20250929", (6, 31000, 2400, 410), "msg_a", "req_b"),
    claude("2026-03-02T10:02:00.000Z", "claude-haiku-4-5-20251001", (900, 0, 0, 150), side=True),
]


def test_claude_sheet_example_last_chunk_wins(tmp_path: Path) -> None:
    env = Env(tmp_path)
    write(env.claude / "demo/s.jsonl", SPEC_CLAUDE)
    env.scan()
    assert env.tokens("claude") == {
        ("2026-03-02", "claude-sonnet-4-5"): (6, 31000, 2400, 410),
        ("2026-03-02", "claude-haiku-4-5"): (900, 0, 0, 150),
    }
    assert env.days("claude")["2026-03-02"]["claude-sonnet-4-5"]["cost"] == 0.024468


def test_claude_rows_without_ids_are_each_counted_and_zero_rows_skipped(tmp_path: Path) -> None:
    env = Env(tmp_path)
    write(env.claude / "p/s.jsonl", [
        claude("2026-03-02T10:00:00Z", "claude-opus-4-5", (10, 0, 0, 5)),
        claude("2026-03-02T10:00:00Z", "claude-opus-4-5", (10, 0, 0, 5)),
        claude("2026-03-02T10:00:01Z", "claude-opus-4-5", (0, 0, 0, 0), "m", "r"),
    ])
    env.scan()
    assert env.tokens("claude") == {("2026-03-02", "claude-opus-4-5"): (20, 0, 0, 10)}


def test_claude_cross_file_duplicate_prefers_main_transcript(tmp_path: Path) -> None:
    env = Env(tmp_path)
    sub = write(env.claude / "p/s1/subagents/agent-1.jsonl", [
        claude("2026-03-02T10:00:00Z", "claude-haiku-4-5", (1, 2, 3, 40), "m1", "r1", side=True),
    ])
    env.scan()
    assert env.tokens("claude") == {("2026-03-02", "claude-haiku-4-5"): (1, 2, 3, 40)}
    write(env.claude / "p/s2.jsonl", [
        claude("2026-03-02T10:00:00Z", "claude-haiku-4-5", (1, 2, 3, 44), "m1", "r1", side=False),
    ])
    env.scan()
    assert env.tokens("claude") == {("2026-03-02", "claude-haiku-4-5"): (1, 2, 3, 44)}
    sub.unlink()  # the loser disappears: nothing changes
    env.scan()
    assert env.tokens("claude") == {("2026-03-02", "claude-haiku-4-5"): (1, 2, 3, 44)}


def test_claude_vertex_entries_excluded(tmp_path: Path) -> None:
    env = Env(tmp_path)
    write(env.claude / "p/s.jsonl", [
        claude("2026-03-02T10:00:00Z", "claude-opus-4-5@20251101", (1, 0, 0, 1), "m1", "r1"),
        claude("2026-03-02T10:00:00Z", "claude-opus-4-5", (1, 0, 0, 1), "msg_vrtx_1", "r2"),
        claude("2026-03-02T10:00:00Z", "claude-opus-4-5", (7, 0, 0, 1), "m3", "r3"),
    ])
    env.scan()
    assert env.tokens("claude") == {("2026-03-02", "claude-opus-4-5"): (7, 0, 0, 1)}


def test_day_boundaries_in_berlin_across_dst(tmp_path: Path) -> None:
    env = Env(tmp_path, "Europe/Berlin")
    write(env.claude / "p/s.jsonl", [
        claude("2026-07-01T21:59:00Z", "claude-opus-4-5", (1, 0, 0, 0)),  # 23:59 CEST -> 07-01
        claude("2026-07-01T22:00:00Z", "claude-opus-4-5", (2, 0, 0, 0)),  # 00:00 CEST -> 07-02
        claude("2026-10-24T22:30:00Z", "claude-opus-4-5", (4, 0, 0, 0)),  # 00:30 CEST -> 10-25
        claude("2026-10-25T22:59:00Z", "claude-opus-4-5", (8, 0, 0, 0)),  # 23:59 CET -> 10-25
        claude("2026-10-25T23:00:00Z", "claude-opus-4-5", (16, 0, 0, 0)),  # 00:00 CET -> 10-26
        claude("2026-10-25T23:30:00+01:00", "claude-opus-4-5", (32, 0, 0, 0)),  # offset given -> 10-25
    ])
    env.scan()
    got = {d: m["claude-opus-4-5"]["inputTokens"] for d, m in env.days("claude").items()}
    assert got == {"2026-07-01": 1, "2026-07-02": 2, "2026-10-25": 4 + 8 + 32, "2026-10-26": 16}


def test_partial_last_line_waits_until_completed(tmp_path: Path) -> None:
    env = Env(tmp_path)
    line = claude("2026-03-02T10:00:00Z", "claude-opus-4-5", (3, 0, 0, 1), "m", "r")
    path = write(env.claude / "p/s.jsonl", [claude("2026-03-02T09:00:00Z", "claude-opus-4-5", (1, 0, 0, 1))],
                 tail=line[:40])
    env.scan()
    assert env.tokens("claude") == {("2026-03-02", "claude-opus-4-5"): (1, 0, 0, 1)}
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line[40:] + "\n")
    assert env.scan() == {"claude": {"2026-03-02"}}
    assert env.tokens("claude") == {("2026-03-02", "claude-opus-4-5"): (4, 0, 0, 2)}


def test_corrupt_line_skipped_and_counted(tmp_path: Path) -> None:
    env = Env(tmp_path)
    write(env.claude / "p/s.jsonl", [
        '{"type":"assistant","message":{"usage":{"input_tokens":',
        claude("2026-03-02T10:00:00Z", "claude-opus-4-5", (3, 0, 0, 1)),
    ])
    write(env.codex / "r.jsonl", [turn("2026-03-02T09:00:00Z", "gpt-5"), '{"type":"event_msg","token_count"'])
    env.scan()
    assert env.state is not None
    assert (corrupt_lines(env.state, "claude"), corrupt_lines(env.state, "codex")) == (1, 1)
    assert env.tokens("claude") == {("2026-03-02", "claude-opus-4-5"): (3, 0, 0, 1)}


def test_append_reads_only_new_bytes(tmp_path: Path) -> None:
    env = Env(tmp_path)
    path = write(env.codex / "r.jsonl", SPEC_CODEX[:3])
    env.scan()
    assert env.state is not None
    offset = next(iter(env.state.files.values())).offset
    assert offset == path.stat().st_size
    append(path, SPEC_CODEX[3:])
    assert env.scan() == {"codex": {"2026-03-02"}}
    assert env.tokens("codex") == {("2026-03-02", "gpt-5.2-codex"): (8546, 30464, 0, 1702)}
    assert env.scan() == {}  # warm: nothing new


def test_truncated_file_is_reread_from_start(tmp_path: Path) -> None:
    env = Env(tmp_path)
    path = write(env.claude / "p/s.jsonl", [claude("2026-03-02T10:00:00Z", "claude-opus-4-5", (5, 0, 0, 5)),
                                            claude("2026-03-03T10:00:00Z", "claude-opus-4-5", (7, 0, 0, 7))])
    env.scan()
    write(path, [claude("2026-03-04T10:00:00Z", "claude-opus-4-5", (1, 0, 0, 1))])
    assert env.scan() == {"claude": {"2026-03-02", "2026-03-03", "2026-03-04"}}
    assert env.tokens("claude") == {("2026-03-04", "claude-opus-4-5"): (1, 0, 0, 1)}


def test_renamed_file_keeps_state_and_rotation_adds_new_file(tmp_path: Path) -> None:
    env = Env(tmp_path)
    path = write(env.codex / "2026/03/02/r.jsonl", SPEC_CODEX)
    env.scan()
    moved = env.archived / "r.jsonl"
    moved.parent.mkdir(parents=True)
    os.rename(path, moved)  # Codex archives a session: same inode
    assert env.scan() == {}
    write(path, [turn("2026-03-03T09:00:00Z", "gpt-5"), tokens("2026-03-03T09:00:01Z", (10, 0, 1), (10, 0, 1))])
    env.scan()
    assert env.tokens("codex") == {
        ("2026-03-02", "gpt-5.2-codex"): (8546, 30464, 0, 1702),
        ("2026-03-03", "gpt-5"): (10, 0, 0, 1),
    }


def test_moved_codex_copy_matched_by_session_id(tmp_path: Path) -> None:
    env = Env(tmp_path)
    path = write(env.codex / "2026/03/02/r.jsonl", SPEC_CODEX)
    env.scan()
    env.archived.mkdir(parents=True)
    shutil.copyfile(path, env.archived / "r.jsonl")  # another inode, same session
    path.unlink()
    env.scan()
    assert env.tokens("codex") == {("2026-03-02", "gpt-5.2-codex"): (8546, 30464, 0, 1702)}


def test_deleted_file_keeps_its_days(tmp_path: Path) -> None:
    env = Env(tmp_path)
    path = write(env.claude / "p/old.jsonl", [claude("2026-01-02T10:00:00Z", "claude-opus-4-5", (5, 0, 0, 5))])
    env.scan()
    path.unlink()
    assert env.scan() == {}
    assert env.tokens("claude") == {("2026-01-02", "claude-opus-4-5"): (5, 0, 0, 5)}


def test_replaced_file_at_same_path_replaces_contribution(tmp_path: Path) -> None:
    env = Env(tmp_path)
    path = write(env.claude / "p/s.jsonl", [claude("2026-03-02T10:00:00Z", "claude-opus-4-5", (5, 0, 0, 5))])
    env.scan()
    tmp = path.with_suffix(".tmp")
    write(tmp, [claude("2026-03-02T10:00:00Z", "claude-opus-4-5", (9, 0, 0, 9))])
    os.replace(tmp, path)
    env.scan()
    assert env.tokens("claude") == {("2026-03-02", "claude-opus-4-5"): (9, 0, 0, 9)}


def test_resumed_scan_from_json_state_equals_clean_scan(tmp_path: Path) -> None:
    env = Env(tmp_path / "a", "Europe/Berlin")
    cpath = write(env.codex / "r.jsonl", SPEC_CODEX[:4], tail=SPEC_CODEX[4][:30])
    lpath = write(env.claude / "p/s.jsonl", SPEC_CLAUDE[:2], tail=SPEC_CLAUDE[2][:50])
    env.scan()
    assert env.state is not None
    restored = ScanState.from_json(json.loads(json.dumps(env.state.to_json())))
    with cpath.open("a", encoding="utf-8") as fh:
        fh.write(SPEC_CODEX[4][30:] + "\n" + SPEC_CODEX[5] + "\n")
    with lpath.open("a", encoding="utf-8") as fh:
        fh.write(SPEC_CLAUDE[2][50:] + "\n" + SPEC_CLAUDE[3] + "\n")
    resumed = Env(tmp_path / "a", "Europe/Berlin")
    resumed.state = restored
    resumed.scan()
    clean = Env(tmp_path / "a", "Europe/Berlin")
    clean.scan()
    assert resumed.tokens("codex") == clean.tokens("codex") == {
        ("2026-03-02", "gpt-5.2-codex"): (8546, 30464, 0, 1702)}
    assert resumed.tokens("claude") == clean.tokens("claude")
    assert resumed.state is not None and clean.state is not None
    assert resumed.state.totals == clean.state.totals


def test_missing_roots_give_an_empty_scan(tmp_path: Path) -> None:
    from codexbard.cost import CostRoots

    state, changed = CostScanner(CostRoots(codex=(tmp_path / "nope",), claude=()), "UTC").scan()
    assert (changed, state.files, state.totals) == ({}, {}, {"codex": {}, "claude": {}})
