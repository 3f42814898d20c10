"""The `codexbard` command (API.md, "CLI").

Machine output goes to stdout, messages to stderr. Exit codes: 0 success, 1 the operation failed,
2 bad arguments or config. `usage` exits 1 when any requested provider failed (JSON still printed).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from codexbard import __version__, render, service
from codexbard.config import ACCOUNT_LABEL
from codexbard.errors import ConfigError, StoreError
from codexbard.host.credentials import entry_name, write_private
from codexbard.host.files import HomeFiles
from codexbard.models import ProviderStatus, iso_z
from codexbard.providers.registry import AccountPlan, plan_accounts
from codexbard.runtime import Runtime
from codexbard.state import AccountState

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A failure to report as one line with an exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _err(message: str) -> None:
    print(f"codexbard: {message}", file=sys.stderr)


def _config_arg(env: Mapping[str, str], config: str | None) -> Path | None:
    """The --config path, with `~` expanded against the given environment's HOME."""
    return HomeFiles(env).expand(config) if config else None


def _load(env: Mapping[str, str], config: str | None) -> Runtime:
    try:
        return Runtime.load(env, _config_arg(env, config))
    except ConfigError as exc:
        raise CliError(f"config error: {exc}", EXIT_USAGE) from None


def _select_plans(runtime: Runtime, providers: Sequence[str] | None, account: str | None) -> list[AccountPlan]:
    ids = runtime.registry.ids()
    for provider_id in providers or ():
        if provider_id != "all" and provider_id not in runtime.registry:
            raise CliError(f"unknown provider '{provider_id}' (known: {', '.join(ids)})", EXIT_USAGE)
    if not providers:
        plans = [p for p in runtime.plans if runtime.detect_blocking(p).enabled]
    elif "all" in providers:
        plans = list(runtime.plans)
    else:
        plans = [p for p in runtime.plans if p.spec.id in providers]
    if account is not None:
        plans = [p for p in plans if p.account == account]
        if not plans:
            raise CliError(f"no configured account '{account}'", EXIT_USAGE)
    return plans


async def _statuses(runtime: Runtime, plans: Sequence[AccountPlan]) -> dict[str, ProviderStatus]:
    from codexbard.status.poller import StatusPoller

    sources = {p.spec.id: p.spec.status for p in plans if p.spec.status is not None}
    polled = {k: v for k, v in sources.items() if v.kind != "link"}
    result = {k: v.link_status() for k, v in sources.items() if v.kind == "link"}
    if polled:
        result.update(await StatusPoller(runtime.http, runtime.clock).poll(polled))
    for provider_id, source in polled.items():
        result.setdefault(provider_id, ProviderStatus(kind=source.kind, indicator="unknown", url=source.page_url))
    return result


def cmd_usage(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """One-shot fetch without a daemon."""
    runtime = _load(env, args.config)
    plans = _select_plans(runtime, args.provider, args.account)
    if args.source:
        for plan in plans:
            if args.source not in plan.spec.modes():
                raise CliError(
                    f"{plan.spec.display_name} does not accept --source {args.source} "
                    f"(accepts: {', '.join(plan.spec.modes())})", EXIT_USAGE)
    if not plans and not args.provider:
        _err("no provider is enabled; run `codexbard providers` to see what each one needs")

    async def run() -> tuple[list[AccountState], dict[str, ProviderStatus]]:
        # Like GET /usage: a requested provider that is not enabled is reported, not fetched.
        accounts = [AccountState(p, await runtime.detect(p)) for p in plans]
        try:
            outcomes = await asyncio.gather(*(runtime.fetch(a.plan, args.source) for a in accounts if a.enabled))
            statuses = await _statuses(runtime, plans) if args.status else {}
        finally:
            await runtime.aclose()
        states = []
        now = runtime.clock.now()
        fetched = iter(outcomes)
        for account in accounts:
            if not account.enabled:
                account.error = account.disabled_error()
                states.append(account)
                continue
            outcome = next(fetched)
            account.snapshot = outcome.snapshot
            account.source = outcome.source
            account.fetched_at = now if outcome.snapshot is not None else None
            if outcome.error is not None:
                from codexbard.models import FetchError

                account.error = FetchError.from_exception(outcome.error)
            states.append(account)
        return states, statuses

    states, statuses = asyncio.run(run())
    now = runtime.clock.now()
    redact = runtime.settings.redact_identity
    payloads = [a.payload(now, statuses.get(a.plan.spec.id), redact=redact, scheduled=False) for a in states]
    if args.format == "json":
        print(render.payloads_json(payloads, pretty=args.pretty))
    elif args.format == "flat":
        print(json.dumps(render.flat(payloads), indent=2 if args.pretty else None))
    else:
        sys.stdout.write(render.text(payloads, now))
    return EXIT_OK if all(p.error is None for p in payloads) else EXIT_FAILED


def cmd_providers(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """What is registered, enabled, available, and why not."""
    runtime = _load(env, args.config)
    accounts = [AccountState(p, runtime.detect_blocking(p)) for p in runtime.plans]
    infos = [render.provider_info(spec, [a for a in accounts if a.plan.spec.id == spec.id])
             for spec in runtime.registry]
    if args.format == "json":
        print(json.dumps(infos, indent=2))
        return EXIT_OK
    for info in infos:
        print(f"{info['id']:<12} {'enabled' if info['enabled'] else 'disabled'}")
        for strategy in info["strategies"]:
            state = "available" if strategy["available"] else "unavailable"
            reason = f": {strategy['reason']}" if strategy["reason"] else ""
            print(f"    {strategy['id']} ({strategy['sourceLabel']}) {state}{reason}")
        hint = info["enableHint"]
        if not info["enabled"] and hint and not any(hint in (s["reason"] or "") for s in info["strategies"]):
            print(f"    how to enable: {hint}")
    return EXIT_OK


def cmd_status(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Poll the status sources of the enabled providers once."""
    runtime = _load(env, args.config)
    plans = [p for p in runtime.plans if runtime.detect_blocking(p).enabled]

    async def run() -> dict[str, ProviderStatus]:
        try:
            return await _statuses(runtime, plans)
        finally:
            await runtime.aclose()

    statuses = asyncio.run(run())
    rows = [{"provider": k, **v.wire()} for k, v in statuses.items()]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        if not rows:
            print("No enabled provider has a status source.")
        for row in rows:
            indicator = row["indicator"] or "link"
            print(f"{row['provider']:<12} {indicator:<12} {row['description'] or ''} {row['url']}".rstrip())
    unknown = [r for r in rows if r["indicator"] == "unknown"]
    return EXIT_FAILED if unknown else EXIT_OK


def cmd_history(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Print stored samples of one window from the database."""
    from datetime import timedelta

    from codexbard.host.clock import parse_query_time
    from codexbard.store import Store

    runtime = _load(env, args.config)
    if args.provider not in runtime.registry:
        raise CliError(f"unknown provider '{args.provider}' (known: {', '.join(runtime.registry.ids())})", EXIT_USAGE)
    if args.step is not None and args.step < 1:
        raise CliError("--step must be at least 1 (seconds)", EXIT_USAGE)
    now = runtime.clock.now()
    try:
        until = parse_query_time("until", args.until) if args.until else now
        since = parse_query_time("since", args.since) if args.since else until - timedelta(hours=24)
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    database = runtime.paths.database
    if not database.exists():
        raise CliError(f"no database at {database} yet (start `codexbard serve` first)")

    async def run() -> list[Any]:
        store = await Store.open(database, clock=runtime.clock)
        try:
            return await store.history(args.provider, args.account, args.window, since, until, args.step)
        finally:
            await store.close()
            await runtime.aclose()

    try:
        samples = asyncio.run(run())
    except StoreError as exc:
        raise CliError(f"database error: {exc}") from None
    points = [{"t": iso_z(s.t), "usedPercent": s.used_percent,
               "resetsAt": iso_z(s.resets_at) if s.resets_at else None} for s in samples]
    if args.format == "json":
        print(json.dumps({"provider": args.provider, "account": args.account, "window": args.window,
                          "points": points}, indent=2))
    else:
        if not points:
            print(f"No samples for {args.provider} {args.window} in that range.")
        for point in points:
            print(f"{point['t']}  {point['usedPercent']:6.1f}%  resets {point['resetsAt'] or '-'}")
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Report config, storage, secret store, and each provider's credentials and strategies."""
    runtime = _load(env, args.config)
    paths = runtime.paths
    print(f"codexbard {__version__}")
    present = "present" if paths.config_file.exists() else "absent; defaults in use"
    print(f"config file:   {paths.config_file} ({present})")
    print(f"database:      {paths.database} ({'present' if paths.database.exists() else 'not created yet'})")
    print(f"secret store:  {runtime.secret_store_note}")
    overrides = runtime.settings.upstream_overrides
    if overrides:
        print(f"overrides:     {', '.join(f'{k} -> {v}' for k, v in overrides.items())}")
    last_errors: dict[str, Any] = {}
    if paths.database.exists():
        from codexbard.store import Store

        async def read() -> list[Any]:
            store = await Store.open(paths.database, clock=runtime.clock)
            try:
                return await store.load_latest()
            finally:
                await store.close()

        try:
            for record in asyncio.run(read()):
                key = record.provider if record.account is None else f"{record.provider}:{record.account}"
                last_errors[key] = record
        except StoreError as exc:
            print(f"database problem: {exc}")
    print()
    for plan in runtime.plans:
        detection = runtime.detect_blocking(plan)
        print(f"{plan.key}: {'enabled' if detection.enabled else 'disabled'}")
        for strategy_id, availability in detection.strategies:
            mark = "ok " if availability.ok else "-- "
            print(f"  {mark}{strategy_id}: {availability.reason}")
        record = last_errors.get(plan.key)
        if record is not None:
            if record.last_success_at:
                print(f"  last success: {iso_z(record.last_success_at)}")
            if record.error is not None:
                print(f"  last error: {record.error.kind}: {record.error.message}")
        hint = plan.spec.enable_hint
        if not detection.enabled and hint and not any(hint in a.reason for _, a in detection.strategies):
            print(f"  how to enable: {hint}")
    asyncio.run(runtime.aclose())
    return EXIT_OK


_SECRET_KEYS = ("api_key", "cookie_header", "token", "oauth_token", "password")


def _redacted(value: Any, key: str = "") -> Any:
    if isinstance(value, SecretStr):
        return "***"
    if isinstance(value, dict):
        return {k: _redacted(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, key) for v in value]
    if key in _SECRET_KEYS and value:
        return "***"
    return value


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _key_path(key: str) -> list[str]:
    try:
        parsed = tomllib.loads(f"{key} = 0")
    except tomllib.TOMLDecodeError:
        message = f"'{key}' is not a valid key (use dotted TOML keys like providers.zai.region)"
        raise CliError(message, EXIT_USAGE) from None
    path: list[str] = []
    node: Any = parsed
    while isinstance(node, dict):
        (name, node), = node.items()
        path.append(name)
    return path


def _toml_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def cmd_config(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """`config path|show|set|set-secret`."""
    if args.config_command == "path":
        runtime_path = _config_arg(env, args.config)
        from codexbard.config import config_path

        print(runtime_path or config_path(env))
        return EXIT_OK
    if args.config_command == "show":
        runtime = _load(env, args.config)
        data = _drop_none(_redacted(runtime.settings.model_dump()))
        data["data_dir"] = str(runtime.paths.data_dir)
        print(f"# effective settings (file: {runtime.paths.config_file}; secrets shown as ***)")
        import tomlkit

        print(tomlkit.dumps(data).rstrip())
        return EXIT_OK
    if args.config_command == "set":
        return _config_set(args, env)
    return _config_set_secret(args, env)


def _config_set(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    import tomlkit  # only `config` needs it; `serve` stays lighter without it

    from codexbard.config import config_path

    path = _config_arg(env, args.config) or config_path(env)
    keys = _key_path(args.key)
    if keys[-1] in _SECRET_KEYS:
        raise CliError(
            f"'{args.key}' is a secret; use `codexbard config set-secret` so it never sits in the config file",
            EXIT_USAGE)
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        document = tomlkit.parse(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from None
    except Exception as exc:  # tomlkit raises its own parse errors
        raise CliError(f"{path} does not parse ({exc}); fix it first, nothing was changed", EXIT_USAGE) from None
    node: Any = document
    for name in keys[:-1]:
        if name not in node:
            node[name] = tomlkit.table()
        node = node[name]
        if not isinstance(node, dict):
            raise CliError(f"'{name}' in {args.key} is not a table", EXIT_USAGE)
    node[keys[-1]] = _toml_value(args.value)
    new_text = tomlkit.dumps(document)
    from codexbard.config import parse_config_text
    from codexbard.providers.registry import default_registry

    try:
        # What the file will hold, on its own: CODEXBARD_* variables neither help nor hurt it.
        plan_accounts(parse_config_text(new_text, str(path)), default_registry())
    except ConfigError as exc:
        raise CliError(f"not saved: {exc}", EXIT_USAGE) from None
    _write_atomic(path, new_text.encode("utf-8"))
    print(f"set {args.key} in {path}")
    return EXIT_OK


def _write_atomic(path: Path, data: bytes) -> None:
    if not path.exists():
        write_private(path, data)
        return
    mode = path.stat().st_mode & 0o777
    write_private(path, data)
    os.chmod(path, mode)


def _config_set_secret(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    runtime = _load(env, args.config)
    if args.provider not in runtime.registry:
        raise CliError(f"unknown provider '{args.provider}' (known: {', '.join(runtime.registry.ids())})", EXIT_USAGE)
    if args.account is not None and not ACCOUNT_LABEL.match(args.account):
        raise CliError(f"--account '{args.account}': labels use only letters, digits, '_', '.' and '-'", EXIT_USAGE)
    if args.stdin or not sys.stdin.isatty():
        value = sys.stdin.readline().strip()
    else:
        value = getpass.getpass(f"{args.provider} {args.field}: ").strip()
    if not value:
        raise CliError("empty secret; nothing stored", EXIT_USAGE)
    user = entry_name(args.provider, args.account, args.field)
    try:
        runtime.secret_store.set(user, value)
    except Exception as exc:
        raise CliError(f"could not store the secret in {runtime.secret_store.name}: {type(exc).__name__}") from None
    print(f"stored {user} in {runtime.secret_store.name}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="codexbard", description="AI coding plan usage daemon and CLI")
    parser.add_argument("--version", action="version", version=f"codexbard {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", help="config file (default: $CODEXBARD_CONFIG or ~/.config/codexbard/config.toml)")

    serve = sub.add_parser("serve", help="run the daemon in the foreground")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    common(serve)

    usage = sub.add_parser("usage", help="fetch usage once, without a daemon")
    usage.add_argument("--provider", action="append", help="provider id (repeatable) or all")
    usage.add_argument("--account")
    usage.add_argument("--source", choices=["auto", "oauth", "api", "web", "cli", "local"])
    usage.add_argument("--status", action="store_true", help="also poll the service status")
    usage.add_argument("--format", choices=["text", "json", "flat"], default="text")
    usage.add_argument("--pretty", action="store_true")
    common(usage)

    providers = sub.add_parser("providers", help="what is registered, enabled, available, and why not")
    providers.add_argument("--format", choices=["text", "json"], default="text")
    common(providers)

    status = sub.add_parser("status", help="poll the service status sources once")
    status.add_argument("--format", choices=["text", "json"], default="text")
    common(status)

    history = sub.add_parser("history", help="stored samples of one window")
    history.add_argument("--provider", required=True)
    history.add_argument("--account")
    history.add_argument("--window", default="primary")
    history.add_argument("--since")
    history.add_argument("--until")
    history.add_argument("--step", type=int)
    history.add_argument("--format", choices=["text", "json"], default="text")
    common(history)

    doctor = sub.add_parser("doctor", help="which credentials were found where, and each strategy's state")
    common(doctor)

    config = sub.add_parser("config", help="config file and secrets")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    common(config_sub.add_parser("path", help="print the config file path"))
    common(config_sub.add_parser("show", help="print the effective settings (secrets redacted)"))
    set_parser = config_sub.add_parser("set", help="set KEY to VALUE in the config file")
    set_parser.add_argument("key")
    set_parser.add_argument("value")
    common(set_parser)
    secret = config_sub.add_parser("set-secret", help="store a secret in the keyring or secrets.toml")
    secret.add_argument("--provider", required=True)
    secret.add_argument("--account")
    secret.add_argument("--field", default="api_key")
    secret.add_argument("--stdin", action="store_true", help="read the secret from standard input")
    common(secret)
    service.add_parser(sub)
    return parser


_COMMANDS = {
    "usage": cmd_usage,
    "providers": cmd_providers,
    "status": cmd_status,
    "history": cmd_history,
    "doctor": cmd_doctor,
    "config": cmd_config,
    "service": service.run,
}


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Entry point of the `codexbard` command."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code not in (0, None) else EXIT_OK
    environment = dict(os.environ if env is None else env)
    if args.command == "serve":
        from codexbard.serve import run_serve

        return run_serve(environment, _config_arg(environment, args.config), args.host, args.port)
    import logging

    logging.basicConfig(level=logging.WARNING, format="codexbard: %(levelname)s %(name)s: %(message)s")
    try:
        return _COMMANDS[args.command](args, environment)
    except CliError as exc:
        _err(str(exc))
        return exc.code
    except KeyboardInterrupt:
        return 130
