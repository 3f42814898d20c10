"""`codexbard config path|show|set|set-secret`: the config file and the secret store."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codexbard.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    add_config_option,
    config_arg,
    err,
    load_runtime,
    unknown_provider,
)

if TYPE_CHECKING:
    from codexbard.providers.base import ProviderSpec
    from codexbard.providers.registry import Registry

NAME = "config"

# Keys that hold a secret in any table (provider-declared secret keys are added from the registry).
SECRET_KEYS = frozenset({"api_key", "cookie_header", "token", "oauth_token", "password"})


def add_parser(subparsers: Any) -> None:
    """Register `config` and its four subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(NAME, help="config file and secrets")
    sub = parser.add_subparsers(dest="config_command", required=True, metavar="{path,show,set,set-secret}")
    add_config_option(sub.add_parser("path", help="print the config file path"))
    add_config_option(sub.add_parser("show", help="print the effective settings (secrets shown as ***)"))
    set_parser = sub.add_parser("set", help="set KEY to VALUE in the config file (keeps comments and layout)")
    set_parser.add_argument("key", help="a dotted TOML key, e.g. providers.zai.interval_seconds")
    set_parser.add_argument("value", help="a TOML value (numbers, true/false, [lists]); anything else is a string")
    add_config_option(set_parser)
    secret = sub.add_parser("set-secret", help="store a secret in the keyring or secrets.toml")
    secret.add_argument("--provider", required=True, metavar="ID", help="the provider the secret belongs to")
    secret.add_argument("--account", metavar="LABEL",
                        help="a configured account of that provider (default: the default account)")
    secret.add_argument("--field", default=None,
                        help="which secret: one the provider declares (default: api_key, else its only one)")
    secret.add_argument("--stdin", action="store_true", help="read the secret from standard input")
    add_config_option(secret)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Dispatch `config <subcommand>`."""
    if args.config_command == "path":
        from codexbard.config import config_path

        print(config_arg(env, args.config) or config_path(env))
        return EXIT_OK
    if args.config_command == "show":
        return _show(args, env)
    if args.config_command == "set":
        return _set(args, env)
    return _set_secret(args, env)


# ------------------------------------------------------------------------------------------------ show


def secret_fields(spec: ProviderSpec) -> list[str]:
    """The secret fields a provider declares (its secret settings and its API-key strategies' fields)."""
    return sorted(spec.secret_fields())


def redacted(value: Any, secret: frozenset[str], key: str = "") -> Any:
    """A settings dump with secret values replaced by `***` (SecretStr, and keys named in `secret`)."""
    from pydantic import SecretStr

    if isinstance(value, SecretStr):
        return "***"
    if isinstance(value, dict):
        return {k: redacted(v, secret, k) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v, secret, key) for v in value]
    if key in secret and value:
        return "***"
    return value


def redacted_settings(dump: dict[str, Any], registry: Registry) -> dict[str, Any]:
    """`Settings.model_dump()` with every secret masked, including passwords inside override URLs."""
    from codexbard.config import redact_url

    out: dict[str, Any] = redacted(dump, SECRET_KEYS)
    providers = dump.get("providers") or {}
    for provider_id, table in providers.items():
        extra = frozenset(secret_fields(registry.get(provider_id))) if provider_id in registry else frozenset()
        out["providers"][provider_id] = redacted(table, SECRET_KEYS | extra)
    out["upstream_overrides"] = {
        redact_url(k): redact_url(v) for k, v in (dump.get("upstream_overrides") or {}).items()
    }
    return out


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _show(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    import tomlkit

    from codexbard.config import load_settings_tolerant
    from codexbard.providers.registry import default_registry

    registry = default_registry()
    loaded = load_settings_tolerant(env, config_arg(env, args.config), registry)
    data = _drop_none(redacted_settings(loaded.settings.model_dump(), registry))
    data["data_dir"] = str(loaded.paths.data_dir)
    for problem in loaded.problems:
        err(f"config error: {problem}")
    note = "; invalid keys left out, see stderr" if loaded.problems else ""
    print(f"# effective settings (file: {loaded.paths.config_file}; secrets shown as ***{note})")
    print(tomlkit.dumps(data).rstrip())
    return EXIT_USAGE if loaded.problems else EXIT_OK


# ------------------------------------------------------------------------------------------------- set


def _key_path(key: str) -> list[str]:
    try:
        parsed = tomllib.loads(f"{key} = 0")
    except (tomllib.TOMLDecodeError, RecursionError):
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
    except (tomllib.TOMLDecodeError, RecursionError):
        return text


def _set(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    import tomlkit  # only `config` needs it; `serve` stays lighter without it

    from codexbard.config import config_path, parse_config_text, read_config_text
    from codexbard.errors import ConfigError
    from codexbard.providers.registry import default_registry, poll_targets

    path = config_arg(env, args.config) or config_path(env)
    keys = _key_path(args.key)
    registry = default_registry()
    provider_secrets = {f for spec in registry for f in secret_fields(spec)}
    if keys[-1] in SECRET_KEYS | provider_secrets:
        raise CliError(
            f"'{args.key}' is a secret; use `codexbard config set-secret` so it never sits in the config file",
            EXIT_USAGE)
    # A symlinked config file (dotfile managers) is edited where it points, and the link stays.
    target = Path(os.path.realpath(path))
    try:
        text = read_config_text(target) or ""
    except ConfigError as exc:
        raise CliError(f"{exc}; nothing was changed", EXIT_USAGE) from None
    bom = text.startswith("\ufeff")
    try:
        document = tomlkit.parse(text.removeprefix("\ufeff"))
    except RecursionError:
        raise CliError(f"{path} does not parse (nested too deeply); fix it first, nothing was changed",
                       EXIT_USAGE) from None
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
    new_text = ("\ufeff" if bom else "") + tomlkit.dumps(document)
    try:
        # What the file will hold, on its own: CODEXBARD_* variables neither help nor hurt it.
        poll_targets(parse_config_text(new_text, str(path), registry), registry)
    except ConfigError as exc:
        raise CliError(f"not saved: {exc}", EXIT_USAGE) from None
    _write_atomic(target, new_text.encode("utf-8"))
    print(f"set {args.key} in {path}")
    return EXIT_OK


def _write_atomic(path: Path, data: bytes) -> None:
    from codexbard.host.credentials import write_private

    if not path.exists():
        write_private(path, data)
        return
    mode = path.stat().st_mode & 0o777
    write_private(path, data)
    os.chmod(path, mode)


# ------------------------------------------------------------------------------------------ set-secret


def _read_secret(prompt: str, from_stdin: bool) -> str:
    """The secret from stdin (one line) or a hidden prompt; Ctrl-D / Ctrl-C end it without a traceback."""
    try:
        if from_stdin or not sys.stdin.isatty():
            return sys.stdin.readline().strip()
        return getpass.getpass(prompt).strip()
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)  # the prompt line was left open
        raise CliError("no secret entered; nothing stored", EXIT_FAILED) from None


def _set_secret(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from codexbard.config import ACCOUNT_LABEL
    from codexbard.host.credentials import entry_name

    runtime = load_runtime(env, args.config)
    if args.provider not in runtime.registry:
        raise unknown_provider(args.provider, runtime)
    spec = runtime.registry.get(args.provider)
    fields = secret_fields(spec)
    if args.field is None:  # API.md: api_key by default; a provider without one has a single obvious choice
        args.field = "api_key" if "api_key" in fields or len(fields) != 1 else fields[0]
    if args.field not in fields:
        accepted = ", ".join(fields) if fields else "none"
        raise CliError(f"{spec.display_name} has no secret field '{args.field}' (accepts: {accepted})", EXIT_USAGE)
    if args.account is not None:
        if not ACCOUNT_LABEL.match(args.account):
            raise CliError(f"--account '{args.account}': labels use only letters, digits, '_', '.' and '-'",
                           EXIT_USAGE)
        if not spec.account_setting_keys():
            raise CliError(f"{spec.display_name} has no accounts; leave out --account", EXIT_USAGE)
        labels = [p.account for p in runtime.targets_for(spec.id) if p.account is not None]
        if args.account not in labels:
            known = f" (configured: {', '.join(labels)})" if labels else ""
            raise CliError(
                f"no account '{args.account}' is configured for {spec.id}{known}; add it as "
                f"[[providers.{spec.id}.accounts]] label = \"{args.account}\" first", EXIT_USAGE)
    value = _read_secret(f"{args.provider} {args.field}: ", args.stdin)
    if not value:
        raise CliError("empty secret; nothing stored", EXIT_USAGE)
    user = entry_name(args.provider, args.account, args.field)
    try:
        runtime.secret_store.set(user, value)
    except Exception as exc:
        raise CliError(f"could not store the secret in {runtime.secret_store.name}: {type(exc).__name__}") from None
    print(f"stored {user} in {runtime.secret_store.name}")
    return EXIT_OK
