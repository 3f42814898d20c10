"""End to end: every startup failure of `codexbard serve` is one line and a prompt exit with its code."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codexbard.host.clock import FixedClock
from codexbard.models import RateWindow, UsageSnapshot
from codexbard.store import Store
from tests.e2e.test_daemon import Daemon, free_port
from tests.helpers import NOW

pytestmark = pytest.mark.e2e


def seed(path: Path) -> None:
    """A real codexbard database with a few samples."""

    async def write() -> None:
        store = await Store.open(path, clock=FixedClock(NOW))
        try:
            for used in range(20):
                snapshot = UsageSnapshot(primary=RateWindow(used_percent=float(used), window_minutes=300))
                await store.save_success("zai", None, snapshot, "api", NOW)
        finally:
            await store.close()

    path.parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(write())


def damage_last_page(path: Path) -> None:
    """Overwrite the last page with garbage; the header (page 1) stays valid."""
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    assert len(data) // page_size >= 3
    data[-page_size:] = b"\xa5" * page_size
    path.write_bytes(bytes(data))


def patched(d: Daemon, code: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """Run `codexbard serve` in a child whose startup `code` has broken first."""
    program = f"{code}\nfrom codexbard.cli import main\nraise SystemExit(main(['serve']))\n"
    return subprocess.run([sys.executable, "-c", program], env=d.env, capture_output=True, text=True,
                          timeout=timeout, cwd=Path(__file__).parents[2])


def test_a_damaged_page_behind_a_valid_header_exits_1_promptly(tmp_path: Path) -> None:
    d = Daemon(tmp_path, free_port(), {})
    seed(d.database)
    damage_last_page(d.database)
    before = d.database.read_bytes()
    started = time.monotonic()
    result = d.run("serve", timeout=20)
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"codexbard: database error: cannot use database {d.database}: "
                                    "the database is damaged (")
    assert result.stderr.endswith("); move it away or set another data_dir\n")
    assert d.database.read_bytes() == before  # never repaired or overwritten


def test_a_job_that_fails_to_start_ends_serve_promptly_with_code_3(tmp_path: Path) -> None:
    # The huge-interval case: the scheduler raised inside the app's startup, the database stayed open,
    # and the process waited forever with SIGTERM ignored.
    d = Daemon(tmp_path, free_port(), {})
    code = (
        "from codexbard import scheduler\n"
        "def boom(self): raise OverflowError('date value out of range')\n"
        "scheduler.PollScheduler.start = boom\n"
    )
    started = time.monotonic()
    result = patched(d, code)
    assert time.monotonic() - started < 15
    assert result.returncode == 3, result.stderr
    assert "OverflowError" in result.stderr
    with sqlite3.connect(f"file:{d.database}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_failure_that_leaves_the_database_open_still_exits_promptly(tmp_path: Path) -> None:
    d = Daemon(tmp_path, free_port(), {})
    code = (
        "from codexbard import daemon as module\n"
        "from codexbard.errors import StoreError\n"
        "from codexbard.store import Store\n"
        "async def half_open(cls, runtime, **kw):\n"
        "    await Store.open(runtime.paths.database)  # opened, never closed\n"
        "    raise StoreError('database x: database disk image is malformed')\n"
        "module.Daemon.open = classmethod(half_open)\n"
    )
    started = time.monotonic()
    result = patched(d, code)
    assert time.monotonic() - started < 15
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "codexbard: database error: database x: database disk image is malformed"


def test_an_unexpected_startup_exception_is_one_line_exit_1(tmp_path: Path) -> None:
    d = Daemon(tmp_path, free_port(), {})
    code = (
        "from codexbard import daemon as module\n"
        "async def broken(cls, runtime, **kw): raise RuntimeError('detect blew up')\n"
        "module.Daemon.open = classmethod(broken)\n"
    )
    result = patched(d, code)
    assert result.returncode == 1
    assert result.stderr == "codexbard: startup failed: RuntimeError: detect blew up\n"


def test_sigterm_during_startup_ends_the_process(tmp_path: Path) -> None:
    d = Daemon(tmp_path, free_port(), {})
    program = (
        "import asyncio, sys\n"
        "from codexbard import daemon as module\n"
        "async def slow(cls, runtime, **kw):\n"
        "    print('opening', file=sys.stderr, flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "module.Daemon.open = classmethod(slow)\n"
        "from codexbard.cli import main\nraise SystemExit(main(['serve']))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", program], env=d.env, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, cwd=Path(__file__).parents[2])
    try:
        assert proc.stderr is not None
        assert proc.stderr.readline() == b"opening\n"
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == -signal.SIGTERM
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ("[providers.zai]\ninterval_seconds = 99999999999999999999\n", "providers.zai.interval_seconds"),
        ("[providers.zai]\ninterval_seconds = 9223372036854775807\n", "providers.zai.interval_seconds"),
        ("default_interval_seconds = 9223372036854775807\n", "default_interval_seconds"),
        ("[status]\ninterval_seconds = 99999999999999999999\n", "status.interval_seconds"),
        ("[providers.zai]\ninterval_seconds = true\n", "providers.zai.interval_seconds"),
        ("[providers.zai]\ninterval_seconds = 5\n", "providers.zai.interval_seconds: 5 s is below the minimum"),
        ("x = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ],
)
def test_hostile_config_values_are_one_line_exit_2(tmp_path: Path, config: str, key: str) -> None:
    d = Daemon(tmp_path, free_port(), {}, config)
    started = time.monotonic()
    result = d.run("serve", timeout=20)
    assert time.monotonic() - started < 10
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"codexbard: config error: {d.config}: "), result.stderr
    assert key in lines[0]
    assert not d.database.exists()


def test_a_config_file_over_the_size_cap_is_refused_at_once(tmp_path: Path) -> None:
    d = Daemon(tmp_path, free_port(), {})
    with d.config.open("r+b") as handle:
        handle.truncate(300 * 1024 * 1024)  # sparse: reading it all would take seconds and memory
    started = time.monotonic()
    result = d.run("serve", timeout=20)
    assert time.monotonic() - started < 10
    assert result.returncode == 2
    assert result.stderr == (
        f"codexbard: config error: {d.config}: the config file is larger than 1048576 bytes; refused\n"
    )


def test_a_database_codexbard_cannot_write_is_refused_at_start(tmp_path: Path) -> None:
    d = Daemon(tmp_path, free_port(), {})
    seed(d.database)
    os.chmod(d.database, 0o400)
    code = (
        "from codexbard.store import opening\n"
        f"opening.writable = lambda path: str(path) != {str(d.database)!r}  # as a non-root user would see it\n"
    )
    result = patched(d, code)
    assert result.returncode == 1
    assert result.stderr == (
        f"codexbard: database error: cannot use database {d.database}: the database file is read-only "
        "(codexbard needs to write it; check the permissions)\n"
    )
