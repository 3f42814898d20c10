"""The `/status` PTY scrape against fake Codex TUIs (ANSI and cursor movement, update prompt, silence)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from codexbard.errors import ProviderError
from codexbard.models import Credits
from codexbard.providers.codex.tui import CodexStatusPty, status_argv
from tests.providers import kit
from tests.providers.codex.support import context, write_program

TUI = r'''
import json, sys
LOG = {log!r}
MODE = {mode!r}
with open(LOG, "a") as f:
    f.write(json.dumps({{"argv": sys.argv[1:]}}) + "\n")
sys.stdout.write("\x1b[2J\x1b[H\x1b[1mOpenAI Codex\x1b[0m\r\n")
if MODE == "update":
    sys.stdout.write("Update available! 0.60.1 -> 0.61.0\r\n  Update now\r\n> Skip\r\n")
sys.stdout.flush()
for line in sys.stdin:
    with open(LOG, "a") as f:
        f.write(json.dumps({{"in": line}}) + "\n")
    if MODE == "silent":
        continue
    if MODE == "update" and line.strip() not in ("/status", "/exit"):
        sys.stdout.write("\x1b[2J\x1b[HOpenAI Codex\r\n")
        sys.stdout.flush()
    if line.strip() == "/status":
        sys.stdout.write("\x1b[5;1H\x1b[1mCredits:\x1b[0m 1,204 credits\r\n")
        sys.stdout.write("\x1b[36m5h limit:\x1b[0m     [\u2588\u2588\u2591\u2591] 58% left (resets 14:05)\r\n")
        sys.stdout.write("Weekly limit: [\u2588\u2588\u2588\u2591] 8")
        sys.stdout.write("\x1b[3D\x1b[K81% left (resets 09:30 on 7 Mar)\r\n")
        sys.stdout.flush()
    if line.strip() == "/exit":
        break
'''


def tui(tmp_path: Path, mode: str) -> tuple[Path, Path]:
    log = tmp_path / "tui.log"
    return write_program(tmp_path, TUI.format(log=str(log), mode=mode)), log


def records(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


async def test_status_screen_is_rendered_and_parsed(tmp_path: Path) -> None:
    program, log = tui(tmp_path, "normal")
    ctx = context(tmp_path, kit.FakeUpstream(), cli=program, env={"TMPDIR": str(tmp_path / "tmp")})
    snap = await CodexStatusPty().fetch(ctx)
    assert snap.primary is not None and (snap.primary.used_percent, snap.primary.window_minutes) == (42.0, 300)
    assert snap.primary.reset_description == "14:05"
    assert snap.secondary is not None and snap.secondary.used_percent == 19.0
    assert snap.secondary.reset_description == "09:30 on 7 Mar"
    assert snap.credits == Credits(remaining=1204.0, total=None, unit="credits")
    first, *rest = records(log)
    assert first["argv"] == status_argv("x", str(tmp_path / "tmp" / "CodexBar" / "CodexStatusProbe"))[1:]
    assert [r["in"] for r in rest] == ["/status\n", "/exit\n"]  # never a prompt


async def test_update_prompt_is_skipped(tmp_path: Path) -> None:
    program, log = tui(tmp_path, "update")
    snap = await CodexStatusPty().fetch(context(tmp_path, kit.FakeUpstream(), cli=program))
    assert snap.credits == Credits(remaining=1204.0, total=None, unit="credits")
    sent = [r["in"] for r in records(log)[1:]]
    assert sent[-2:] == ["/status\n", "/exit\n"]
    assert set(sent) <= {"\x1b[B\n", "\n", "/status\n", "/exit\n"}


async def test_silent_tui_ends_within_its_deadline(tmp_path: Path) -> None:
    program, log = tui(tmp_path, "silent")
    ctx = context(tmp_path, kit.FakeUpstream(), cli=program)
    ctx.deadline = time.monotonic() + 1.5
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        await CodexStatusPty().fetch(ctx)
    assert time.monotonic() - started < 6
    assert (caught.value.kind, caught.value.message) == ("parse_error", "Codex /status output has no credits or limits")
    sent = {r["in"] for r in records(log) if "in" in r}
    assert sent <= {"/status\n", "\n", "/exit\n"}


def test_argv_is_read_only_and_escapes_the_state_dir() -> None:
    assert status_argv("codex", '/tmp/a "b"') == [
        "codex", "-s", "read-only", "-a", "never", "-c", 'history.persistence="none"',
        "-c", 'experimental_thread_store={type="in_memory",id="codexbar-status"}',
        "-c", 'sqlite_home="/tmp/a \\"b\\""',
    ]
