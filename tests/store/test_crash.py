"""Crash safety: what one Store committed is readable by the next, even if the first never closed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from codexbard.models import FetchError
from codexbard.store import Store
from tests.store.builders import NOW, full_snapshot, minutes, primary_only

# The writer commits, then the process dies on the spot: no close, no checkpoint, no atexit.
_WRITER = textwrap.dedent(
    """
    import asyncio, os, sys
    from datetime import UTC, datetime
    from pathlib import Path
    from codexbard.models import FetchError
    from codexbard.store import Store
    from tests.store.builders import NOW, full_snapshot, minutes

    async def main() -> None:
        store = await Store.open(Path(sys.argv[1]))
        await store.save_success("claude", None, full_snapshot(), "oauth", NOW)
        await store.save_failure("claude", None, FetchError.of("timeout", "slow"), NOW + minutes(5))
        await store.log_poll("claude", None, NOW, 10.0, True, None, [{"strategy": "oauth"}])
        wal = Path(sys.argv[1] + "-wal")
        print(wal.exists() and wal.stat().st_size > 0, flush=True)
        os._exit(0)

    asyncio.run(main())
    """
)


_REPO = Path(__file__).resolve().parents[2]


def _run_writer(path: Path, cwd: Path) -> str:
    command = [sys.executable, "-c", _WRITER, str(path)]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


async def test_data_survives_a_writer_process_that_dies_without_closing(db_path: Path) -> None:
    repo = _REPO
    # The commit lives only in the WAL when the writer dies: the reader must recover it from there.
    assert _run_writer(db_path, repo) == "True"

    store = await Store.open(db_path)
    try:
        (record,) = await store.load_latest()
        log = await store.poll_log()
        assert await store.integrity_check() == "ok"
        await store.save_success("claude", None, primary_only(1.0), "oauth", NOW + minutes(10))
    finally:
        await store.close()
    assert record.snapshot == full_snapshot()
    assert record.consecutive_failures == 1
    assert record.error == FetchError.of("timeout", "slow")
    assert [e["attempts"] for e in log] == [[{"strategy": "oauth"}]]


async def test_second_store_reads_what_an_unclosed_first_store_committed(db_path: Path) -> None:
    first = await Store.open(db_path)
    try:
        await first.save_success("codex", "work", full_snapshot(), "codex-cli", NOW)
        # `first` is abandoned here (still open, never checkpointed) while another Store opens the file.
        second = await Store.open(db_path)
        try:
            records = await second.load_latest()
            samples = await second.history("codex", "work", "primary", NOW, NOW)
            error = FetchError.of("unavailable", "HTTP 503")
            await second.save_failure("codex", "work", error, NOW + minutes(5))
        finally:
            await second.close()
        # And the first sees the second's write.
        (after,) = await first.load_latest()
    finally:
        await first.close()
    assert [(r.provider, r.account, r.snapshot) for r in records] == [("codex", "work", full_snapshot())]
    assert [s.used_percent for s in samples] == [28.5]
    assert after.consecutive_failures == 1
