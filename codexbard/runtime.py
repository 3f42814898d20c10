"""The runtime: settings, host capabilities and the accounts to poll (poll targets) wired together.

Both the daemon and the one-shot CLI commands build one `Runtime`; it hands each provider account a
`FetchContext`, decides which providers are enabled, and runs the fetch pipeline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from codexbard.config import Paths, Settings, load_settings
from codexbard.host.clock import Clock
from codexbard.host.credentials import CredentialResolver, SecretStore, select_secret_store
from codexbard.host.credfile import CredentialFiles, WatchedFiles
from codexbard.host.files import HomeFiles
from codexbard.host.http import HttpClient
from codexbard.host.process import ProcessRunner
from codexbard.providers.base import ApiKeyStrategy, Availability, FetchContext
from codexbard.providers.registry import PollTarget, Registry, default_registry, poll_targets
from codexbard.providers.runner import FetchOutcome, run_pipeline

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Detection:
    """Whether an account is enabled, and what each strategy reported."""

    enabled: bool
    explicit: bool
    strategies: list[tuple[str, Availability]]

    def reason(self) -> str:
        """One line: why the account is (not) enabled."""
        if self.enabled:
            return "enabled in config" if self.explicit else "credentials detected"
        if self.explicit:
            return "disabled in config"
        reasons = [f"{sid}: {a.reason}" for sid, a in self.strategies if a.reason]
        return "; ".join(reasons) or "no credentials found"


class Runtime:
    """Settings plus host capabilities, shared by every provider account."""

    def __init__(
        self,
        settings: Settings,
        paths: Paths,
        env: Mapping[str, str],
        *,
        registry: Registry | None = None,
        http: HttpClient | None = None,
        secret_store: SecretStore | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.paths = paths
        self.env = dict(env)
        self.registry = registry or default_registry()
        self.clock = clock or Clock()
        self.http = http or HttpClient(overrides=self._overrides(), clock=self.clock)
        if secret_store is None:
            secret_store, self.secret_store_note = select_secret_store(paths.config_dir, self.env)
        else:
            self.secret_store_note = secret_store.name
        self.secret_store = secret_store
        self.files = HomeFiles(self.env)
        self.process = ProcessRunner(self.env)
        self.credential_files = CredentialFiles()
        self._watched: dict[str, WatchedFiles] = {}
        self.targets = poll_targets(settings, self.registry)

    @classmethod
    def load(cls, env: Mapping[str, str], config: Path | None = None, **kwargs: object) -> Runtime:
        """Load settings from the environment (and file) and build a runtime."""
        settings, paths = load_settings(env, config)
        return cls(settings, paths, env, **kwargs)  # type: ignore[arg-type]

    def _overrides(self) -> dict[str, str]:
        return dict(self.settings.upstream_overrides)

    def targets_for(self, provider_id: str) -> list[PollTarget]:
        """The poll targets (accounts) of one provider, in config order."""
        return [p for p in self.targets if p.spec.id == provider_id]

    def context(self, target: PollTarget) -> FetchContext:
        """Build the fetch context of one provider account; its env shows only what the provider declares."""
        env = target.spec.visible_env(self.env)
        return FetchContext(
            provider_id=target.spec.id,
            account=target.account,
            options=target.options,
            explicitly_enabled=target.enabled_setting is True,
            http=self.http,
            credentials=CredentialResolver(
                provider=target.spec.id,
                account=target.account,
                env=env,
                store=self.secret_store,
                files=self.files,
                config_values=target.options,
            ),
            files=self.files,
            env=env,
            process=ProcessRunner(env),
            clock=self.clock,
            credential_files=self.credential_files,
            watched_files=self.watched_files(target),
        )

    def watched_files(self, target: PollTarget) -> WatchedFiles:
        """The credential files an account's strategies registered (kept across polls)."""
        return self._watched.setdefault(target.key, WatchedFiles())

    async def detect(self, target: PollTarget) -> Detection:
        """Decide whether an account is enabled: config says so, or a strategy is available."""
        ctx = self.context(target)
        results: list[tuple[str, Availability]] = []
        for strategy in target.spec.strategies:
            try:
                availability = await strategy.available(ctx)
            except Exception as exc:  # availability must never take the daemon down
                log.debug("%s available() raised", target.key, exc_info=True)
                availability = Availability.no(f"availability check failed: {type(exc).__name__}")
            results.append((strategy.id, availability))
        if target.enabled_setting is not None:
            return Detection(target.enabled_setting, True, results)
        return Detection(any(a.ok for _, a in results), False, results)

    def detect_blocking(self, target: PollTarget) -> Detection:
        """`detect` for synchronous callers (one-shot CLI commands, test set-up), never the daemon.

        It runs in a private thread with its own event loop, so it also works under a running loop.
        """
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, self.detect(target)).result()

    async def credential_fingerprint(self, target: PollTarget) -> str:
        """A digest of what an account's credentials look like now (never the secrets themselves).

        It changes when a strategy's availability changes, when the config file or the secrets file is
        rewritten (`codexbard config set-secret`), or when a credential file a strategy read changes: a
        file registered in `ctx.watched_files` (a Codex `auth.json`, Claude Code's `.credentials.json`) or
        a key file an API-key strategy declares (`~/.config/bigmodel/api_key`), each by (path, mtime_ns,
        size, inode). So a daemon waiting out an auth failure can try again at once instead of in an hour.
        """
        digest = hashlib.sha256()
        for strategy_id, availability in (await self.detect(target)).strategies:
            digest.update(f"{strategy_id}\0{availability.ok}\0{availability.reason}\0".encode())
        watched = self._declared_files(target)
        digest.update(await asyncio.to_thread(self._credential_files_digest, watched))  # file stats, off the loop
        return digest.hexdigest()

    def _declared_files(self, target: PollTarget) -> WatchedFiles:
        """The account's registered files plus the key files its API-key strategies declare."""
        watched = WatchedFiles()
        for path in self.watched_files(target).paths():
            watched.add(path)
        if target.account is None:  # key files belong to the default account only
            ctx = self.context(target)
            for strategy in target.spec.strategies:
                if isinstance(strategy, ApiKeyStrategy):
                    for name in strategy.api_key(ctx).files:
                        watched.add(self.files.expand(name))
        return watched

    def _credential_files_digest(self, watched: WatchedFiles) -> bytes:
        parts: list[str] = []
        for path in (self.paths.config_file, self.paths.config_dir / "secrets.toml"):
            try:
                stat = path.stat()
            except OSError:
                continue
            parts.append(f"{path}\0{stat.st_mtime_ns}\0{stat.st_size}\0")
        return "".join(parts).encode() + watched.stamp()

    async def fetch(self, target: PollTarget, mode: str | None = None, *,
                    web_timeout: float | None = None) -> FetchOutcome:
        """Run the fetch pipeline for one account (`web_timeout`: a bound on each web strategy)."""
        return await run_pipeline(target.spec, self.context(target), mode or target.mode, web_timeout=web_timeout)

    async def aclose(self) -> None:
        """Release pooled connections."""
        await self.http.aclose()
