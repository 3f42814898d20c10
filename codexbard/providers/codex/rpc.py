"""The `codex-cli` strategy: `codex -s read-only -a never app-server`, newline-delimited JSON-RPC.

Exactly three requests and one notification are sent — `initialize` (8 s), `initialized`,
`account/rateLimits/read` (3 s) and `account/read` (3 s) — never a turn or a prompt, so reading usage spends
no quota. The child gets the scrubbed environment plus this account's `CODEX_HOME`; whatever happens (an
answer, an error, a hang, garbage, a child ignoring SIGTERM) it is closed: stdin closed, SIGTERM to its
process group, 0.4 s grace, SIGKILL, reaped.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from codexbard import __version__
from codexbard.errors import CliMissing, ParseError, ProviderError, Timeout, Unavailable, Unsupported
from codexbard.host.process import JsonRpcChild, JsonRpcError
from codexbard.models import UsageSnapshot
from codexbard.providers.base import Availability, FetchContext, Strategy, StrategyKind
from codexbard.providers.codex.const import (
    CLI_INSTALL_HINT,
    RPC_ACCOUNT,
    RPC_ARGS,
    RPC_CLIENT_NAME,
    RPC_INITIALIZE,
    RPC_INITIALIZE_TIMEOUT,
    RPC_INITIALIZED,
    RPC_KILL_GRACE,
    RPC_MAX_LINE_BYTES,
    RPC_RATE_LIMITS,
    RPC_REQUEST_TIMEOUT,
    SOURCE_CLI,
)
from codexbard.providers.codex.home import (
    CodexHome,
    config_table,
    local_zone,
    read_config_text,
    resolve_cli,
    resolve_home,
)

log = logging.getLogger(__name__)

CLI_MISSING = f"Codex CLI missing; install it with `{CLI_INSTALL_HINT}` (or set CODEX_CLI_PATH)"
API_KEY_MODE = (
    "Codex is logged in with an OpenAI API key, which has no ChatGPT plan quota to show; "
    "run `codex login` with a ChatGPT account to see Codex limits"
)


def rpc_argv(cli: str) -> list[str]:
    """The exact command line: `<codex> -s read-only -a never app-server`."""
    return [cli, *RPC_ARGS]


def initialize_params() -> dict[str, Any]:
    """The `initialize` params: who we are (any name works; the reference sends its own)."""
    return {"clientInfo": {"name": RPC_CLIENT_NAME, "version": __version__}}


def cli_available(ctx: FetchContext) -> Availability:
    """Available when the `codex` executable resolves (cli_missing otherwise)."""
    cli = resolve_cli(ctx)
    if cli is None:
        return Availability.no(CLI_MISSING, kind="cli_missing")
    return Availability.yes(f"Codex CLI at {cli}")


def require_cli(ctx: FetchContext) -> str:
    """The resolved `codex` executable; CliMissing (with the install hint) when there is none."""
    cli = resolve_cli(ctx)
    if cli is None:
        raise CliMissing(CLI_MISSING)
    return cli


class CodexRpc(Strategy):
    """Ask the Codex CLI's app server for the rate limits and the account."""

    id: ClassVar[str] = "codex-cli"
    kind: ClassVar[StrategyKind] = "cli"
    source_label: ClassVar[str] = SOURCE_CLI

    async def available(self, ctx: FetchContext) -> Availability:
        """Available when `codex` resolves."""
        return cli_available(ctx)

    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        """Run the dialogue in a bounded child and map its answers."""
        cli = require_cli(ctx)
        home = resolve_home(ctx)
        child = await JsonRpcChild.spawn(
            ctx.process, rpc_argv(cli), extra_env=home.child_env(), max_line=RPC_MAX_LINE_BYTES
        )
        try:
            return await self._dialogue(ctx, home, child)
        except (Timeout, Unavailable, ParseError) as exc:
            if type(exc) not in (Timeout, Unavailable, ParseError):
                raise
            # The host names the program by its resolved path; the user knows it as `codex`.
            raise type(exc)(exc.message.replace(f"`{cli}`", "`codex`")) from None
        finally:
            await child.close(grace=RPC_KILL_GRACE)

    async def _dialogue(self, ctx: FetchContext, home: CodexHome, child: JsonRpcChild) -> UsageSnapshot:
        from codexbard.providers.codex import parse as P

        now, tz = ctx.clock.now(), local_zone(ctx)
        init = await child.request(
            RPC_INITIALIZE, initialize_params(), timeout=ctx.remaining(RPC_INITIALIZE_TIMEOUT)
        )
        await child.notify(RPC_INITIALIZED, timeout=ctx.remaining(RPC_REQUEST_TIMEOUT))
        version = P.rpc_cli_version(init)
        try:
            limits = await child.request(RPC_RATE_LIMITS, timeout=ctx.remaining(RPC_REQUEST_TIMEOUT))
        except JsonRpcError as exc:
            recovered = P.recover_rpc_error_body(exc.error_message, now=now, tz=tz)
            if recovered is not None:
                return recovered.snapshot.model_copy(update={"version": version})
            if await self._api_key_mode(ctx, child):
                raise Unsupported(API_KEY_MODE) from None
            config = config_table(await read_config_text(ctx, home))
            raise P.rpc_failure(RPC_RATE_LIMITS, exc.error_message, config=config) from None
        account = await self._account(ctx, child)
        if _is_api_key(account):
            from codexbard.providers.codex.models import RpcRateLimits

            model = RpcRateLimits.read(limits)
            bucket = model.rate_limits if model is not None else None
            if bucket is None or (bucket.primary is None and bucket.secondary is None):
                raise Unsupported(API_KEY_MODE)
        usage = P.parse_rpc_rate_limits(limits, account, now=now, tz=tz)
        if usage.limits_unavailable:
            log.debug("Codex app-server: identity known, no rate limits (a plan without Codex quota)")
        return usage.snapshot.model_copy(update={"version": version})

    async def _account(self, ctx: FetchContext, child: JsonRpcChild) -> object:
        """The `account/read` result, or None: its failure only leaves the identity empty."""
        try:
            return await child.request(RPC_ACCOUNT, timeout=ctx.remaining(RPC_REQUEST_TIMEOUT))
        except ProviderError as exc:
            log.debug("Codex app-server account/read failed: %s", exc.kind)
            return None

    async def _api_key_mode(self, ctx: FetchContext, child: JsonRpcChild) -> bool:
        """Whether the CLI is logged in with an API key (asked after rate limits failed)."""
        return _is_api_key(await self._account(ctx, child))


def _is_api_key(result: object) -> bool:
    from codexbard.providers.codex.models import RpcAccountResult

    parsed = RpcAccountResult.read(result)
    return parsed is not None and parsed.account is not None and parsed.account.kind == "apikey"
