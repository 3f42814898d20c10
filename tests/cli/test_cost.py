"""`codexbard cost`: scans with the daemon's stored state, prints the `GET /cost` array or a table."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import httpx
import pytest

from codexbard.api.app import create_app
from codexbard.cli import main
from codexbard.host.clock import FixedClock
from tests.api.test_cost import BASE, _daemon
from tests.cost.corpus import NOW, TZ, cost_env, expected_blocks, write_corpus


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    write_corpus(tmp_path / "logs")
    monkeypatch.setattr("codexbard.host.clock.Clock", lambda: FixedClock(NOW))
    config = tmp_path / "config.toml"
    config.write_text("")
    return {**os.environ, **cost_env(tmp_path / "logs"), "CODEXBARD_CONFIG": str(config), "TZ": TZ}


def test_json_is_the_cost_array(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "--format", "json"], env) == 0
    out = capsys.readouterr().out
    body = json.loads(out)
    assert body == expected_blocks(body[0]["updatedAt"])
    assert out == json.dumps(body, separators=(",", ":")) + "\n"


def test_json_equals_the_api_over_the_same_stored_state(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[cost]\ntimezone = "{TZ}"\n')

    async def serve(query: str) -> str:
        daemon = await _daemon(tmp_path)  # same config, same database; serves the stored aggregate, no scan
        assert daemon.cost is not None and daemon.store is not None
        assert daemon.store.path == tmp_path / "home" / ".local" / "share" / "codexbard" / "codexbard.db"
        await daemon.cost.restore(daemon.store)
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(daemon)), base_url=BASE,
                                         headers={"host": "127.0.0.1:8765"}) as c:
                return (await c.get(f"/cost?{query}")).text
        finally:
            await daemon.stop(timeout=1)

    for argv, query in [
        (["--provider", "claude", "--days", "2"], "provider=claude&days=2"),
        (["--period", "month"], "period=month"),
        ([], ""),
    ]:
        assert main(["cost", "--format", "json", *argv], env) == 0
        cli = capsys.readouterr().out
        assert cli == asyncio.run(serve(query)) + "\n"
    assert json.loads(cli) == expected_blocks(json.loads(cli)[0]["updatedAt"])


def test_text_is_a_table(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "--provider", "claude", "--period", "all"], env) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("Claude: local logs, days in Europe/Paris, scanned ")
    assert lines[1:] == [
        "  Date        Input  Output  Cache read  Cache write  Total tokens  Cost (USD)  Models",
        "  2026-12-04    100      50           0            0           150       $0.00  claude-haiku-4-5",
        "  2026-12-06  1,000     300       2,000          500         3,800       $0.01  claude-sonnet-4-5",
        "  Total       1,100     350       2,000          500         3,950       $0.01",
        "  Today: 3,800 tokens, $0.01",
    ]


def test_timezone_option_moves_the_days(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "--provider", "claude", "--period", "all", "--format", "json", "--timezone", "UTC"],
                env) == 0
    body = json.loads(capsys.readouterr().out)
    assert [d["date"] for d in body[0]["daily"]] == ["2026-12-04", "2026-12-05"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--days", "0"], "codexbard: 'days' must be a whole number from 1 to 365"),
        (["--days", "400"], "codexbard: 'days' must be a whole number from 1 to 365"),
        (["--timezone", "Mars/Olympus"], "codexbard: unknown time zone 'Mars/Olympus'"),
    ],
)
def test_bad_options_exit_2(env: dict[str, str], capsys: pytest.CaptureFixture[str], argv: list[str],
                            message: str) -> None:
    assert main(["cost", *argv], env) == 2
    assert capsys.readouterr().err.strip() == message


def test_days_and_period_are_exclusive_and_provider_is_checked(env: dict[str, str]) -> None:
    assert main(["cost", "--days", "3", "--period", "all"], env) == 2
    assert main(["cost", "--provider", "zai"], env) == 2


def test_a_bad_config_exits_2(env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path(env["CODEXBARD_CONFIG"]).write_text('[cost.pricing."m"]\ninput = 1\n')
    assert main(["cost"], env) == 2
    assert "'input' and 'output' are required" in capsys.readouterr().err
