"""What the `codexbar` shim answers (`codexbard compat run …`), in the shapes CodexBar's clients read.

`usage` and `cost` are codexbard's own commands; `capabilities --format json` and `config providers --format json`
answer from the provider registry; `serve` reuses a codexbard daemon already answering /health on the port (staying
in the foreground while it lives) or runs `codexbard serve` in this process.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import Any, Literal

from codexbard.compat import SHIM_NAME

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

SUBCOMMANDS = ("usage", "cost", "serve", "capabilities", "config")
PROBE_TIMEOUT = 2.0
WATCH_INTERVAL = 1.0
WATCH_MISSES = 3
"""`serve` gives up on a reused daemon after this many /health probes in a row went unanswered."""

Probe = Literal["codexbard", "other", "none"]


def _say(message: str) -> None:
    print(f"{SHIM_NAME}: {message}", file=sys.stderr)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one `codexbar: …` line and exit 2."""

    def error(self, message: str) -> Any:
        _say(f"{self.prog.removeprefix(SHIM_NAME + ' ')}: {message}")
        raise SystemExit(EXIT_USAGE)


def _json_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["text", "json"], default=None, help="text (default) or JSON")
    parser.add_argument("--json", action="store_true", help="same as --format json")
    parser.add_argument("--json-only", action="store_true", help="JSON only (implies --format json)")
    parser.add_argument("--json-output", action="store_true", help="accepted; there are no logs to format")
    parser.add_argument("--pretty", action="store_true", help="indent the JSON")


def _wants_json(args: argparse.Namespace) -> bool:
    return bool(args.format == "json" or (args.format is None and (args.json or args.json_only)))


def _print_json(value: object, pretty: bool) -> None:
    print(json.dumps(value, indent=2 if pretty else None))


def _has_command(name: str) -> bool:
    from codexbard.cli import COMMANDS

    return any(command.name == name for command in COMMANDS)


def run_shim(words: Sequence[str], env: Mapping[str, str]) -> int:
    """Answer one `codexbar …` call (the words after `codexbar`); the process exit code."""
    from codexbard import __version__
    from codexbard.cli import main

    if not words or words[0] in ("-h", "--help", "help"):
        print(f"usage: {SHIM_NAME} {{{','.join(SUBCOMMANDS)}}} ...\n"
              f"codexbard's stand-in for CodexBar's CLI (remove it with `codexbard compat uninstall`)")
        return EXIT_OK if words else EXIT_USAGE
    name, rest = words[0], list(words[1:])
    if name in ("-V", "--version", "version"):
        print(f"{SHIM_NAME} (codexbard {__version__} compat)")
        return EXIT_OK
    if name == "usage":
        return main(["usage", *rest], env)
    if name == "cost":
        if _has_command("cost"):
            return main(["cost", *rest], env)
        print("[]")
        _say("cost: this codexbard has no cost command yet; printed an empty list")
        return EXIT_OK
    try:
        if name == "capabilities":
            return _capabilities(rest)
        if name == "config":
            return _config(rest, env)
        if name == "serve":
            return _serve(rest, env)
    except SystemExit as exc:  # argparse: --help (0) or a bad argument (2, already reported)
        return EXIT_OK if exc.code in (0, None) else EXIT_USAGE
    _say(f"unknown command '{name}' (codexbard's {SHIM_NAME} answers: {', '.join(SUBCOMMANDS)})")
    return EXIT_USAGE


def capabilities_payload() -> dict[str, Any]:
    """What `codexbar capabilities --format json` reports: none of CodexBar's optional negotiated features."""
    from codexbard import __version__

    return {
        "implementation": "codexbard",
        "version": __version__,
        "commands": ["usage", "cost", "serve", "capabilities", "config providers"],
        "capabilities": {
            "fetchProfiles": [],
            "interactionModes": [],
            "presentationSchemaVersions": [],
            "serve": {"fetchProfile": False, "forceRefresh": False},
        },
    }


def _capabilities(rest: list[str]) -> int:
    parser = _Parser(prog=f"{SHIM_NAME} capabilities", description="what this codexbar supports")
    _json_flags(parser)
    args = parser.parse_args(rest)
    payload = capabilities_payload()
    if _wants_json(args):
        _print_json(payload, args.pretty)
    else:
        print(f"codexbard {payload['version']} standing in for CodexBar's CLI")
        print(f"commands: {', '.join(payload['commands'])}")
        print("fetch profiles, interaction modes, presentation schemas: none")
    return EXIT_OK


def providers_payload(env: Mapping[str, str]) -> list[dict[str, Any]]:
    """`codexbar config providers --format json`: every registered provider, in registry order, and whether
    any of its configured accounts is enabled (credentials found, not switched off)."""
    from codexbard.cli.common import load_runtime

    runtime = load_runtime(env, None)
    enabled: set[str] = {p.spec.id for p in runtime.targets if runtime.detect_blocking(p).enabled}
    return [{"provider": spec.id, "displayName": spec.display_name, "enabled": spec.id in enabled}
            for spec in runtime.registry]


def _config(rest: list[str], env: Mapping[str, str]) -> int:
    from codexbard.cli.common import CliError

    if not rest or rest[0] != "providers":
        what = f"config {rest[0]}" if rest else "config"
        _say(f"unknown command '{what}' (codexbard's {SHIM_NAME} answers: config providers; "
             "change settings with `codexbard config`)")
        return EXIT_USAGE
    parser = _Parser(prog=f"{SHIM_NAME} config providers", description="registered providers and which are enabled")
    _json_flags(parser)
    args = parser.parse_args(rest[1:])
    try:
        payload = providers_payload(env)
    except CliError as exc:
        _say(str(exc))
        return exc.code
    if _wants_json(args):
        _print_json(payload, args.pretty)
    else:
        for entry in payload:
            print(f"{entry['provider']:<12} {'enabled' if entry['enabled'] else 'disabled'}  {entry['displayName']}")
    return EXIT_OK


def health_url(host: str, port: int) -> str:
    """Where a daemon bound to host:port answers /health from this machine (wildcards asked on loopback)."""
    name = host.strip("[]")
    if name in ("", "0.0.0.0"):
        name = "127.0.0.1"
    elif name == "::":
        name = "::1"
    return f"http://[{name}]:{port}/health" if ":" in name else f"http://{name}:{port}/health"


def probe(url: str, timeout: float = PROBE_TIMEOUT) -> Probe:
    """`codexbard` when a codexbard daemon answers /health at `url`, `other` for another listener, else `none`."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            body = response.read(65536)
    except urllib.error.HTTPError:
        return "other"
    except (urllib.error.URLError, OSError, ValueError):
        return "none"
    try:
        data = json.loads(body)
    except ValueError:
        return "other"
    if (isinstance(data, dict) and data.get("status") in ("ok", "degraded")
            and "uptimeSeconds" in data and "providersEnabled" in data):
        return "codexbard"
    return "other"


def watch(url: str, interval: float = WATCH_INTERVAL, misses: int = WATCH_MISSES) -> int:
    """Stay in the foreground while the daemon at `url` answers; 0 on SIGTERM/SIGINT, 1 once it is gone."""
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_term)
    missed = 0
    try:
        while missed < misses:
            if stop.wait(interval):
                return EXIT_OK
            missed = 0 if probe(url) == "codexbard" else missed + 1
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        signal.signal(signal.SIGTERM, previous)
    _say(f"the codexbard daemon at {url.removesuffix('/health')} stopped answering; exiting")
    return EXIT_FAILED


def _serve(rest: list[str], env: Mapping[str, str]) -> int:
    from codexbard.cli import main
    from codexbard.cli.common import seconds
    from codexbard.config import load_settings
    from codexbard.errors import ConfigError

    parser = _Parser(prog=f"{SHIM_NAME} serve", description="reuse a running codexbard daemon or start one")
    parser.add_argument("--host", help="address (default: codexbard's `host` setting)")
    parser.add_argument("--port", type=int, help="port (default: codexbard's `port` setting)")
    parser.add_argument("--refresh-interval", type=seconds, metavar="SECONDS", help="poll interval")
    parser.add_argument("--request-timeout", type=seconds, metavar="SECONDS", help="how long POST /refresh waits")
    parser.add_argument("--json-output", action="store_true", help="logs on stderr as JSON lines")
    args = parser.parse_args(rest)
    if args.port is not None and not 0 < args.port < 65536:
        parser.error(f"--port must be 1-65535, got {args.port}")
    try:
        settings, _ = load_settings(env, None)
    except ConfigError as exc:
        _say(f"config error: {exc}")
        return EXIT_USAGE
    host = args.host if args.host is not None else settings.host
    port = args.port if args.port is not None else settings.port
    url = health_url(host, port)
    found = probe(url)
    if found == "codexbard":
        _say(f"reusing the codexbard daemon at {url.removesuffix('/health')}; not starting a second poller")
        return watch(url)
    if found == "other":
        _say(f"something that is not codexbard answers on {host}:{port}; choose another --port")
        return EXIT_FAILED
    argv = ["serve"]
    if args.host is not None:
        argv += ["--host", args.host]
    if args.port is not None:
        argv += ["--port", str(args.port)]
    if args.refresh_interval is not None:
        argv += ["--refresh-interval", repr(args.refresh_interval)]
    if args.request_timeout is not None:
        argv += ["--request-timeout", repr(args.request_timeout)]
    if args.json_output:
        argv.append("--json-output")
    return main(argv, env)
