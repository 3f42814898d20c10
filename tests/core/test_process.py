"""Tests for codexbard.host.process: real tiny scripts, missing programs, and timeouts that kill the group."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from codexbard.errors import CliMissing, ParseError, Timeout, Unavailable
from codexbard.host.process import JsonRpcChild, JsonRpcError, ProcessRunner, env_allowed, scrub_env, strip_ansi


def script(directory: Path, name: str, body: str, *, executable: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755 if executable else 0o644)
    return path


def py_script(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!{sys.executable}\n" + body)
    path.chmod(0o755)
    return path


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    return tmp_path / "bin"


@pytest.fixture
def runner(bin_dir: Path) -> ProcessRunner:
    return ProcessRunner({"PATH": f"{bin_dir}:{os.environ.get('PATH', os.defpath)}", "LC_ALL": "C"})


def alive(pid: int) -> bool:
    """Whether pid is a live process (a zombie waiting to be reaped counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


async def gone(pid: int, within: float = 2.0) -> bool:
    """Wait until pid is no longer alive (the kernel may need a moment to tear it down)."""
    for _ in range(int(within / 0.05)):
        if not alive(pid):
            return True
        await asyncio.sleep(0.05)
    return not alive(pid)


async def test_stdout_stderr_and_exit_code(runner: ProcessRunner, bin_dir: Path) -> None:
    script(bin_dir, "fake-cli", 'echo "out $1 $2"\necho "err" >&2\nexit 3\n')
    result = await runner.run(["fake-cli", "usage", "--json"], timeout=5)
    assert result.argv == ("fake-cli", "usage", "--json")
    assert result.returncode == 3
    assert result.stdout == "out usage --json\n"
    assert result.stderr == "err\n"


async def test_absolute_path_stdin_env_and_cwd(runner: ProcessRunner, bin_dir: Path, tmp_path: Path) -> None:
    path = script(bin_dir, "echoer", 'cat\necho "$EXTRA_VAR"\npwd\n')
    result = await runner.run(
        [str(path)],
        timeout=5,
        input_data=b"from stdin\n",
        extra_env={"EXTRA_VAR": "extra"},
        cwd=str(tmp_path),
    )
    assert result.returncode == 0
    assert result.stdout == f"from stdin\nextra\n{tmp_path}\n"


async def test_stdin_is_closed_without_input(runner: ProcessRunner, bin_dir: Path) -> None:
    script(bin_dir, "reader", 'cat\necho "done"\n')
    result = await runner.run(["reader"], timeout=5)
    assert result.stdout == "done\n"


async def test_environment_is_only_the_runners(bin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Changed deliberately: the runner's own env is scrubbed too; only allow-listed names and extra_env pass.
    monkeypatch.setenv("LEAKED_FROM_PARENT", "yes")
    script(bin_dir, "envdump", 'echo "[$LEAKED_FROM_PARENT][$MINE][$LANG][$EXPLICIT]"\n')
    runner = ProcessRunner({"PATH": str(bin_dir), "MINE": "m", "LANG": "C.UTF-8"})
    result = await runner.run(["envdump"], timeout=5, extra_env={"EXPLICIT": "e"})
    assert result.stdout == "[][][C.UTF-8][e]\n"


async def test_provider_keys_in_the_parent_env_never_reach_the_child(bin_dir: Path, tmp_path: Path) -> None:
    daemon_env = {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path),
        "USER": "sam",
        "LOGNAME": "sam",
        "LANG": "en_US.UTF-8",
        "LC_ALL": "C",
        "LC_TIME": "C",
        "TERM": "xterm",
        "TZ": "UTC",
        "TMPDIR": "/tmp",
        "SHELL": "/bin/sh",
        "XDG_CONFIG_HOME": "/x/c",
        "XDG_RUNTIME_DIR": "/run/user/1",
        "XDG_DATA_DIRS": "/usr/share",
        "Z_AI_API_KEY": "zai-secret-0123456789",
        "OPENROUTER_API_KEY": "sk-or-secret",
        "CODEXBARD_TOKEN": "daemon-token",
        "CODEXBARD_PROVIDERS__ZAI__API_KEY": "from-config",
        "XDG_SESSION_COOKIE": "not-a-dir",
        "AWS_SECRET_ACCESS_KEY": "aws",
    }
    py_script(bin_dir, "envdump", "import json, os\nprint(json.dumps(dict(os.environ)))\n")
    result = await ProcessRunner(daemon_env).run(["envdump"], timeout=5, extra_env={"CODEX_HOME": "/h/codex"})
    child = json.loads(result.stdout)
    assert child["CODEX_HOME"] == "/h/codex"
    assert child["LC_TIME"] == "C"
    assert set(child) - {"LC_CTYPE"} == {
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_TIME", "TERM", "TZ", "TMPDIR", "SHELL",
        "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR", "XDG_DATA_DIRS", "CODEX_HOME",
    }  # fmt: skip
    assert "secret" not in result.stdout
    assert "daemon-token" not in result.stdout


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("PATH", True),
        ("LC_MESSAGES", True),
        ("XDG_CACHE_HOME", True),
        ("XDG_CONFIG_DIRS", True),
        ("HTTPS_PROXY", True),
        ("XDG_SESSION_TYPE", False),
        ("PATHX", False),
        ("ANTHROPIC_API_KEY", False),
        ("CODEX_HOME", False),
        ("OPENAI_API_KEY", False),
        ("LD_PRELOAD", False),
        ("PYTHONPATH", False),
    ],
)
def test_env_allow_list(name: str, allowed: bool) -> None:
    assert env_allowed(name) is allowed
    assert (name in scrub_env({name: "v"})) is allowed
    assert scrub_env({name: "v"}, {name: "explicit"}) == {name: "explicit"}


async def test_output_cap_stops_reading_and_kills_the_group(bin_dir: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    # An endless writer: without a cap applied while reading this never ends (until the timeout).
    script(bin_dir, "flood", 'sleep 30 &\necho $! > "$1"\nwhile :; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxx; done\n')
    runner = ProcessRunner({"PATH": f"{bin_dir}:{os.environ.get('PATH', os.defpath)}"})
    started = time.monotonic()
    with pytest.raises(ParseError) as info:
        await runner.run(["flood", str(pid_file)], timeout=20, max_output=100_000)
    assert time.monotonic() - started < 5
    assert info.value.kind == "parse_error"
    assert info.value.message == "`flood` wrote more than 100000 bytes to stdout; stopped reading"
    assert await gone(int(pid_file.read_text()))


async def test_output_cap_on_stderr_and_exact_cap_is_fine(runner: ProcessRunner, bin_dir: Path) -> None:
    script(bin_dir, "exact", "head -c 1000 /dev/zero | tr '\\0' a\n")
    result = await runner.run(["exact"], timeout=5, max_output=1000)
    assert result.stdout == "a" * 1000
    script(bin_dir, "noisy", "head -c 5000 /dev/zero >&2\n")
    with pytest.raises(ParseError) as info:
        await runner.run(["noisy"], timeout=5, max_output=1000)
    assert info.value.message == "`noisy` wrote more than 1000 bytes to stderr; stopped reading"


async def test_large_input_and_output_do_not_deadlock(runner: ProcessRunner, bin_dir: Path) -> None:
    script(bin_dir, "copy", "cat\n")
    data = b"0123456789abcdef" * 65536  # 1 MiB, more than any pipe buffer
    result = await runner.run(["copy"], timeout=10, input_data=data, max_output=len(data))
    assert result.stdout == data.decode()


async def test_undecodable_output_is_replaced(runner: ProcessRunner, bin_dir: Path) -> None:
    script(bin_dir, "binary", "printf 'ok \\377\\n'\n")
    result = await runner.run(["binary"], timeout=5)
    assert result.stdout == "ok \ufffd\n"


async def test_missing_program_by_name(runner: ProcessRunner) -> None:
    with pytest.raises(CliMissing) as info:
        await runner.run(["codexbard-no-such-cli", "--version"], timeout=5)
    assert info.value.kind == "cli_missing"
    assert info.value.message == "`codexbard-no-such-cli` is not installed or not on PATH"


async def test_missing_program_by_path(runner: ProcessRunner, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope" / "cli")
    with pytest.raises(CliMissing) as info:
        await runner.run([missing], timeout=5)
    assert info.value.message == f"`{missing}` is not installed or not on PATH"


async def test_non_executable_by_path(runner: ProcessRunner, bin_dir: Path) -> None:
    path = script(bin_dir, "plain", "echo hi\n", executable=False)
    with pytest.raises(CliMissing) as info:
        await runner.run([str(path)], timeout=5)
    assert info.value.message == f"`{path}` is not executable"


async def test_non_executable_by_name_is_not_found(runner: ProcessRunner, bin_dir: Path) -> None:
    script(bin_dir, "plain", "echo hi\n", executable=False)
    assert runner.which("plain") is None
    with pytest.raises(CliMissing) as info:
        await runner.run(["plain"], timeout=5)
    assert info.value.message == "`plain` is not installed or not on PATH"


async def test_empty_argv_is_a_programming_error(runner: ProcessRunner) -> None:
    with pytest.raises(ValueError, match="argv must not be empty"):
        await runner.run([], timeout=5)


def test_which_uses_the_runners_path(bin_dir: Path) -> None:
    path = script(bin_dir, "only-here", "exit 0\n")
    assert ProcessRunner({"PATH": str(bin_dir)}).which("only-here") == str(path)
    assert ProcessRunner({"PATH": "/nonexistent"}).which("only-here") is None


async def test_timeout_kills_the_whole_process_group(
    runner: ProcessRunner, bin_dir: Path, tmp_path: Path
) -> None:
    pid_file = tmp_path / "child.pid"
    script(bin_dir, "hangs", 'sleep 30 &\necho $! > "$1"\necho started\nwait\n')
    started = time.monotonic()
    with pytest.raises(Timeout) as info:
        await runner.run(["hangs", str(pid_file)], timeout=1.0)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 2.0
    assert info.value.kind == "timeout"
    assert info.value.message == "`hangs` did not finish within 1 s"
    assert await gone(int(pid_file.read_text()))


async def test_timeout_when_the_child_ignores_sigterm(runner: ProcessRunner, bin_dir: Path) -> None:
    script(bin_dir, "stubborn", "trap '' TERM INT HUP\nwhile :; do sleep 1; done\n")
    started = time.monotonic()
    with pytest.raises(Timeout):
        await runner.run(["stubborn"], timeout=0.5)
    assert time.monotonic() - started < 1.5


async def test_cancellation_kills_the_group(runner: ProcessRunner, bin_dir: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script(bin_dir, "hangs", 'sleep 30 &\necho $! > "$1"\nwait\n')
    task = asyncio.create_task(runner.run(["hangs", str(pid_file)], timeout=30))
    deadline = time.monotonic() + 5
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await gone(int(pid_file.read_text()))


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\x1b[31mred\x1b[0m plain", "red plain"),
        ("\x1b[1;32;48;5;236mbold\x1b[m", "bold"),
        ("\x1b[2K\x1b[1G\x1b[?25lprogress\x1b[?25h", "progress"),
        ("\x1b]0;window title\x07text", "text"),
        ("\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("\x1b(B\x1b[mx\x1b7y\x1b8\x1bc", "xy"),
        ("\x1b#8\x1b%Gz\x1b=", "z"),
        ("no escapes at all", "no escapes at all"),
        ("5h limit: 28% used", "5h limit: 28% used"),
    ],
)
def test_strip_ansi(raw: str, clean: str) -> None:
    assert strip_ansi(raw) == clean


# --- JsonRpcChild: a fake app-server written in Python ----------------------------------------------------

FAKE_RPC = """
import json, os, signal, sys, time
mode = sys.argv[1]
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
log = open(sys.argv[2], "a") if len(sys.argv) > 2 else None
def send(obj):
    sys.stdout.write(json.dumps(obj) + "\\n")
    sys.stdout.flush()
for line in sys.stdin:
    msg = json.loads(line)
    if log:
        log.write(line)
        log.flush()
    if "id" not in msg:
        continue
    rid, method = msg["id"], msg["method"]
    if mode == "garbage":
        sys.stdout.write("not json at all\\n\\n[1, 2]\\n\\"a string\\"\\n{broken\\n")
        send({"id": rid + 100, "result": "stale"})
        send({"id": rid, "result": {"ok": method}})
    elif mode == "hang" and method == "account/rateLimits/read":
        time.sleep(60)
    elif mode == "longline":
        sys.stdout.write("x" * 5000 + "\\n")
        sys.stdout.flush()
    elif mode == "exit":
        sys.exit(0)
    elif method == "initialize":
        send({"id": rid, "result": {"userAgent": "fake/0.0"}})
    elif method == "account/rateLimits/read":
        send({"method": "some/notification", "params": {}})
        if mode == "error":
            send({"id": rid, "error": {"code": -32603, "message": "failed: body={\\"plan_type\\": \\"plus\\"}"}})
        else:
            send({"id": rid, "result": {"rateLimits": {"primary": {"usedPercent": 37.5}}}})
    elif method == "account/read":
        send({"id": rid, "result": {"account": {"type": "chatgpt", "email": "sam@example.org"}}})
    if mode in ("stubborn", "grandchild") and method == "initialize":
        if mode == "grandchild":
            pid = os.fork()
            if pid == 0:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                time.sleep(60)
                os._exit(0)
            open(sys.argv[3], "w").write(str(pid))
if mode == "stubborn":
    while True:
        time.sleep(1)
"""


@pytest.fixture
def rpc_runner(bin_dir: Path) -> ProcessRunner:
    py_script(bin_dir, "fake-codex", FAKE_RPC)
    return ProcessRunner({"PATH": str(bin_dir), "Z_AI_API_KEY": "leak-me-not"})


async def test_rpc_dialogue(rpc_runner: ProcessRunner, tmp_path: Path) -> None:
    log_file = tmp_path / "requests.log"
    async with await JsonRpcChild.spawn(rpc_runner, ["fake-codex", "normal", str(log_file)]) as child:
        pid = child.pid
        assert await child.request("initialize", {"clientInfo": {"name": "codexbard"}}, timeout=5) == {
            "userAgent": "fake/0.0"
        }
        await child.notify("initialized")
        limits = await child.request("account/rateLimits/read", timeout=5)
        assert limits == {"rateLimits": {"primary": {"usedPercent": 37.5}}}
        assert child.skipped == 1  # the notification before the answer
        account = await child.request("account/read", timeout=5)
        assert account == {"account": {"type": "chatgpt", "email": "sam@example.org"}}
    assert child.returncode is not None
    assert await gone(pid)
    assert [json.loads(line) for line in log_file.read_text().splitlines()] == [
        {"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "codexbard"}}},
        {"method": "initialized", "params": {}},
        {"id": 2, "method": "account/rateLimits/read", "params": {}},
        {"id": 3, "method": "account/read", "params": {}},
    ]


async def test_rpc_child_env_is_scrubbed(bin_dir: Path) -> None:
    py_script(
        bin_dir,
        "envrpc",
        "import json, os, sys\nfor line in sys.stdin:\n"
        "    m = json.loads(line)\n"
        "    print(json.dumps({'id': m['id'], 'result': sorted(os.environ)}), flush=True)\n",
    )
    runner = ProcessRunner({"PATH": str(bin_dir), "OPENROUTER_API_KEY": "sk-or-x", "HOME": "/h"})
    async with await JsonRpcChild.spawn(runner, ["envrpc"], extra_env={"CODEX_HOME": "/c"}) as child:
        names = await child.request("env", timeout=5)
    assert set(names) - {"LC_CTYPE"} == {"PATH", "HOME", "CODEX_HOME"}


async def test_rpc_error_response(rpc_runner: ProcessRunner) -> None:
    async with await JsonRpcChild.spawn(rpc_runner, ["fake-codex", "error"]) as child:
        await child.request("initialize", timeout=5)
        with pytest.raises(JsonRpcError) as info:
            await child.request("account/rateLimits/read", timeout=5)
        # The dialogue goes on after an error answer.
        assert await child.request("account/read", timeout=5) == {
            "account": {"type": "chatgpt", "email": "sam@example.org"}
        }
    assert info.value.kind == "unavailable"
    assert info.value.method == "account/rateLimits/read"
    assert info.value.error == {"code": -32603, "message": 'failed: body={"plan_type": "plus"}'}
    assert info.value.error_message == 'failed: body={"plan_type": "plus"}'
    assert info.value.message == '`account/rateLimits/read` failed: failed: body={"plan_type": "plus"}'


async def test_rpc_hang_times_out_and_kills(rpc_runner: ProcessRunner) -> None:
    child = await JsonRpcChild.spawn(rpc_runner, ["fake-codex", "hang"])
    try:
        await child.request("initialize", timeout=5)
        started = time.monotonic()
        with pytest.raises(Timeout) as info:
            await child.request("account/rateLimits/read", timeout=0.5)
        assert 0.4 <= time.monotonic() - started < 1.5
        assert info.value.message == "timed out waiting for `account/rateLimits/read` from `fake-codex`"
        assert child.returncode is not None  # killed and reaped already
    finally:
        await child.close()
    assert await gone(child.pid)


async def test_rpc_garbage_lines_are_skipped(rpc_runner: ProcessRunner) -> None:
    async with await JsonRpcChild.spawn(rpc_runner, ["fake-codex", "garbage"]) as child:
        assert await child.request("initialize", timeout=5) == {"ok": "initialize"}
        # Five non-objects (blank, text, array, string, broken) and one answer to another id.
        assert child.skipped == 6


async def test_rpc_overlong_line_kills_the_child(rpc_runner: ProcessRunner) -> None:
    child = await JsonRpcChild.spawn(rpc_runner, ["fake-codex", "longline"], max_line=1000)
    with pytest.raises(ParseError) as info:
        await child.request("initialize", timeout=5)
    assert info.value.message == "`fake-codex` wrote a line longer than 1000 bytes"
    assert child.returncode is not None
    await child.close()


async def test_rpc_child_that_exits_is_unavailable(rpc_runner: ProcessRunner) -> None:
    async with await JsonRpcChild.spawn(rpc_runner, ["fake-codex", "exit"]) as child:
        with pytest.raises(Unavailable) as info:
            await child.request("initialize", timeout=5)
        assert info.value.message in ("`fake-codex` closed its output", "`fake-codex` exited")


async def test_rpc_close_kills_a_child_ignoring_sigterm(rpc_runner: ProcessRunner) -> None:
    child = await JsonRpcChild.spawn(rpc_runner, ["fake-codex", "stubborn"])
    await child.request("initialize", timeout=5)
    started = time.monotonic()
    await child.close(grace=0.3)
    assert 0.25 <= time.monotonic() - started < 2  # SIGTERM was ignored for the whole grace period
    assert await gone(child.pid)
    # -SIGKILL, or 255 when asyncio's watcher lost the status to another reaper in this busy test process
    assert child.returncode in (-signal.SIGKILL, 255)


async def test_rpc_close_kills_the_whole_group(rpc_runner: ProcessRunner, tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    child = await JsonRpcChild.spawn(rpc_runner, ["fake-codex", "grandchild", str(tmp_path / "log"), str(pid_file)])
    await child.request("initialize", timeout=5)
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text():
            break
        await asyncio.sleep(0.02)
    grandchild = int(pid_file.read_text())
    await child.close()
    assert await gone(grandchild)


async def test_rpc_missing_program(rpc_runner: ProcessRunner) -> None:
    with pytest.raises(CliMissing) as info:
        await JsonRpcChild.spawn(rpc_runner, ["codex-not-here", "app-server"])
    assert info.value.message == "`codex-not-here` is not installed or not on PATH"
