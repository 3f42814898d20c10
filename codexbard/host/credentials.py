"""Secrets: where they are stored and the order in which a provider's credentials are looked up.

Lookup order for a provider secret (API.md): the provider's own env vars → the secret store (keyring
when its backend is Secret Service, KWallet or the macOS Keychain, else `secrets.toml`, mode 0600) →
the config file (including `CODEXBARD_PROVIDERS__…` variables) → the tool's own credential file.
A missing, locked or insecure keyring is "not found, here is why", never a crash.
`CredentialResolver.lookup` (the one strategies use) reads the keyring, `secrets.toml` and HOME files
in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import stat
import sys
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

from codexbard.host.files import HomeFiles

log = logging.getLogger(__name__)

SERVICE: Final = "codexbard"
KEYRING_TIMEOUT: Final = 5.0
_SECURE_BACKENDS: Final = (
    "keyring.backends.SecretService",
    "keyring.backends.kwallet",
    "keyring.backends.macOS",
)


def clean_secret(raw: str | None) -> str | None:
    """Trim, strip one pair of matching quotes, trim again; an empty result is absent."""
    if raw is None:
        return None
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].strip()
    return value or None


def entry_name(provider: str, account: str | None, field_name: str) -> str:
    """Return the secret store user name `<provider>[@<account>]:<field>`."""
    who = f"{provider}@{account}" if account else provider
    return f"{who}:{field_name}"


class Secret:
    """A secret value that never prints itself."""

    __slots__ = ("_value", "origin")

    def __init__(self, value: str, origin: str) -> None:
        self._value = value
        self.origin = origin

    def reveal(self) -> str:
        """Return the secret itself (for a request header only)."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret(*** from {self.origin})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass
class SecretLookup:
    """The result of looking a secret up: the value (if any) and every place searched."""

    secret: Secret | None
    searched: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        """Whether a value was found."""
        return self.secret is not None

    def where(self) -> str:
        """Describe where the lookup searched, for `not_configured` messages."""
        text = ", ".join(self.searched) if self.searched else "nowhere"
        if self.problems:
            text += " (" + "; ".join(self.problems) + ")"
        return text


class SecretStore(Protocol):
    """Somewhere secrets can be stored outside the config file."""

    name: str

    def get(self, user: str) -> tuple[str | None, str | None]:
        """Return (value, problem); problem explains why a lookup could not be done."""

    def set(self, user: str, value: str) -> None:
        """Store a value."""

    def delete(self, user: str) -> bool:
        """Remove a value; return whether one existed."""


class FileSecretStore:
    """`secrets.toml` (mode 0600) beside the config file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"secrets file {path}"

    def _load(self) -> tuple[dict[str, str], str | None]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}, None
        except OSError as exc:
            return {}, f"cannot read {self.path}: {exc.strerror}"
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            return {}, f"{self.path} is readable by others; run: chmod 600 {self.path}"
        try:
            data = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            return {}, f"cannot parse {self.path}: {type(exc).__name__}"
        return {k: v for k, v in data.items() if isinstance(v, str)}, None

    def get(self, user: str) -> tuple[str | None, str | None]:
        """Return the stored value for `user`."""
        values, problem = self._load()
        return values.get(user), problem

    def set(self, user: str, value: str) -> None:
        """Store a value, rewriting the file atomically with mode 0600."""
        values, problem = self._load()
        if problem and self.path.exists():
            raise OSError(problem)
        values[user] = value
        self._write(values)

    def delete(self, user: str) -> bool:
        """Remove a value."""
        values, _ = self._load()
        if user not in values:
            return False
        del values[user]
        self._write(values)
        return True

    def _write(self, values: dict[str, str]) -> None:
        import tomlkit  # only the CLI writes secrets; keep the daemon's memory small

        doc = tomlkit.document()
        for key in sorted(values):
            doc[key] = values[key]
        write_private(self.path, tomlkit.dumps(doc).encode("utf-8"))


class MemorySecretStore:
    """An in-memory store (tests, and a read-only fallback)."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self.values = dict(values or {})
        self.name = "memory"

    def get(self, user: str) -> tuple[str | None, str | None]:
        """Return the stored value."""
        return self.values.get(user), None

    def set(self, user: str, value: str) -> None:
        """Store a value."""
        self.values[user] = value

    def delete(self, user: str) -> bool:
        """Remove a value."""
        return self.values.pop(user, None) is not None


_keyring_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="keyring")


class KeyringStore:
    """The OS keyring, used only with a secure backend, each call bounded by a timeout."""

    def __init__(self, backend: object, backend_name: str) -> None:
        self._backend = backend
        self.name = f"keyring ({backend_name})"
        self._broken: str | None = None

    def _call(self, fn_name: str, *args: str) -> object:
        if self._broken:
            raise OSError(self._broken)
        future = _keyring_pool.submit(getattr(self._backend, fn_name), *args)
        try:
            return future.result(timeout=KEYRING_TIMEOUT)
        except concurrent.futures.TimeoutError:
            # A locked collection waits for an unlock prompt nobody will answer: stop asking.
            self._broken = f"the keyring did not answer within {KEYRING_TIMEOUT:g} s (locked?)"
            raise OSError(self._broken) from None

    def get(self, user: str) -> tuple[str | None, str | None]:
        """Return the stored value, or the reason the keyring could not be read."""
        try:
            value = self._call("get_password", SERVICE, user)
        except Exception as exc:  # keyring raises many backend-specific errors
            return None, f"keyring unavailable: {type(exc).__name__}: {exc}"
        return (value if isinstance(value, str) else None), None

    def set(self, user: str, value: str) -> None:
        """Store a value in the keyring."""
        self._call("set_password", SERVICE, user, value)

    def delete(self, user: str) -> bool:
        """Remove a value from the keyring."""
        try:
            self._call("delete_password", SERVICE, user)
        except Exception:
            return False
        return True


def _no_session_bus(env: Mapping[str, str]) -> bool:
    """On Linux, Secret Service and KWallet need a D-Bus session bus; without one keyring cannot work."""
    if not sys.platform.startswith("linux") or env.get("PYTHON_KEYRING_BACKEND"):
        return False
    if env.get("DBUS_SESSION_BUS_ADDRESS"):
        return False
    runtime_dir = env.get("XDG_RUNTIME_DIR")
    return not (runtime_dir and os.path.exists(os.path.join(runtime_dir, "bus")))


def select_secret_store(config_dir: Path, env: Mapping[str, str] | None = None) -> tuple[SecretStore, str]:
    """Pick the keyring when its backend is secure, else `secrets.toml`; return the store and why."""
    file_store = FileSecretStore(config_dir / "secrets.toml")
    if env is not None and _no_session_bus(env):
        # Probing would only import the D-Bus backends (several MB) to find them unusable.
        return file_store, f"no D-Bus session bus, so no keyring; using {file_store.path}"
    try:
        import keyring

        future = _keyring_pool.submit(keyring.get_keyring)
        backend = future.result(timeout=KEYRING_TIMEOUT)
    except Exception as exc:
        return file_store, f"no usable keyring ({type(exc).__name__}); using {file_store.path}"
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    if name.startswith(_SECURE_BACKENDS):
        return KeyringStore(backend, name), f"keyring backend {name}"
    return file_store, f"keyring backend {name} is not a secure store; using {file_store.path}"


def write_private(path: Path, data: bytes) -> None:
    """Write a file atomically with mode 0600 (created with that mode, never chmod-ed after)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class CredentialResolver:
    """Looks secrets up for one provider account in the documented order."""

    def __init__(
        self,
        *,
        provider: str,
        account: str | None,
        env: Mapping[str, str],
        store: SecretStore,
        files: HomeFiles,
        config_values: Mapping[str, object],
    ) -> None:
        self.provider = provider
        self.account = account
        self.env = env
        self.store = store
        self.files = files
        self.config_values = config_values

    def _from_env(self, lookup: SecretLookup, names: Sequence[str]) -> bool:
        # The provider's env vars describe its default credentials, not a named account's.
        if self.account is not None:
            return False
        for name in names:
            lookup.searched.append(f"env {name}")
            value = clean_secret(self.env.get(name))
            if value:
                lookup.secret = Secret(value, f"env {name}")
                return True
        return False

    def _after_env(
        self,
        lookup: SecretLookup,
        field_name: str,
        late_env_vars: Sequence[str],
        files: Sequence[str],
        use_store: bool,
    ) -> SecretLookup:
        """The blocking part of a lookup: secret store → config → late env vars → files."""
        if use_store:
            user = entry_name(self.provider, self.account, field_name)
            lookup.searched.append(f"{self.store.name} entry {user}")
            stored, problem = self.store.get(user)
            if problem:
                lookup.problems.append(problem)
            value = clean_secret(stored)
            if value:
                lookup.secret = Secret(value, self.store.name)
                return lookup
        section = f"providers.{self.provider}" + (f".accounts[{self.account}]" if self.account else "")
        lookup.searched.append(f"config {section}.{field_name}")
        configured = self.config_values.get(field_name)
        if hasattr(configured, "get_secret_value"):
            configured = configured.get_secret_value()
        value = clean_secret(configured if isinstance(configured, str) else None)
        if value:
            lookup.secret = Secret(value, f"config {section}.{field_name}")
            return lookup
        if self._from_env(lookup, late_env_vars):
            return lookup
        for path in files:
            lookup.searched.append(f"file {path}")
            value = clean_secret(self.files.first_line(path))
            if value:
                lookup.secret = Secret(value, f"file {path}")
                return lookup
        return lookup

    def secret(
        self,
        field_name: str = "api_key",
        *,
        env_vars: Sequence[str] = (),
        late_env_vars: Sequence[str] = (),
        files: Sequence[str] = (),
        use_store: bool = True,
    ) -> SecretLookup:
        """Find a secret, blocking: env vars → secret store → config → late env vars → files.

        Env vars (both kinds) count for the default account only; a file counts by its first line.
        From async code use `lookup`, which does the same off the event loop.
        """
        lookup = SecretLookup(secret=None)
        if self._from_env(lookup, env_vars):
            return lookup
        return self._after_env(lookup, field_name, late_env_vars, files, use_store)

    async def lookup(
        self,
        field_name: str = "api_key",
        *,
        env_vars: Sequence[str] = (),
        late_env_vars: Sequence[str] = (),
        files: Sequence[str] = (),
        use_store: bool = True,
    ) -> SecretLookup:
        """`secret` without blocking the loop: the keyring and file reads run in a worker thread."""
        lookup = SecretLookup(secret=None)
        if self._from_env(lookup, env_vars):
            return lookup
        if not use_store and not files:  # only in-memory config and env values are left
            return self._after_env(lookup, field_name, late_env_vars, files, use_store)
        return await asyncio.to_thread(self._after_env, lookup, field_name, late_env_vars, files, use_store)
