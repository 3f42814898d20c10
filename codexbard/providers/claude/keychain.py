"""Claude Code's macOS keychain item (generic password `Claude Code-credentials`), read through `security`.

On macOS Claude Code may keep its OAuth credentials in the login keychain instead of `.credentials.json`; the
payload is the same JSON. The item is read with `security find-generic-password -s "Claude Code-credentials" -w`
through `ctx.process` (scrubbed environment, short timeout, group killed on timeout). The printed payload is
parsed and dropped at once: it is never logged, echoed or put into an error message. Linux never gets here.
"""

from __future__ import annotations

import string
from typing import TYPE_CHECKING, Final

from codexbard.errors import AuthRequired, CliMissing, NotConfigured, ProviderError, Timeout
from codexbard.providers.claude import paths

if TYPE_CHECKING:
    from codexbard.providers.base import FetchContext
    from codexbard.providers.claude.parse import OAuthCredentials

KEYCHAIN_SERVICE: Final = "Claude Code-credentials"
SECURITY_PROGRAM: Final = "security"
SECURITY_FALLBACK: Final = "/usr/bin/security"
KEYCHAIN_ARGS: Final = ("find-generic-password", "-s", KEYCHAIN_SERVICE, "-w")
KEYCHAIN_TIMEOUT: Final = 5.0
KEYCHAIN_MAX_OUTPUT: Final = 256 * 1024
ITEM_NOT_FOUND_EXIT: Final = 44  # errSecItemNotFound, as `security` reports it
KEYCHAIN_ORIGIN: Final = f"the macOS keychain item `{KEYCHAIN_SERVICE}`"
KEYCHAIN_PROFILE: Final = f"keychain:{KEYCHAIN_SERVICE}"  # the delegation-cooldown key of the keychain item
_RELOGIN: Final = "run `claude` and log in again"
_HEX: Final = frozenset(string.hexdigits)


def keychain_argv(ctx: FetchContext) -> list[str]:
    """The command: `security` from the child's PATH (else /usr/bin/security) and the sheet's arguments."""
    program = ctx.process.which(SECURITY_PROGRAM) or SECURITY_FALLBACK
    return [program, *KEYCHAIN_ARGS]


def _payload_text(stdout: str) -> str:
    """The item's data as text: `security -w` prints it plainly, or as hex when it holds unprintable bytes."""
    text = stdout.strip()
    if text and not text.startswith("{") and len(text) % 2 == 0 and set(text) <= _HEX:
        try:
            return bytes.fromhex(text).decode("utf-8").strip()
        except (ValueError, UnicodeDecodeError):
            return text
    return text


async def read_keychain(ctx: FetchContext) -> OAuthCredentials | None:
    """Claude Code's keychain credentials; None off macOS or when the item is absent (exit 44).

    Raises NotConfigured when `security` cannot be run, AuthRequired when the read fails otherwise (timeout,
    locked keychain, denied access, a payload that is not Claude Code's credentials JSON).
    """
    if not paths.on_macos():
        return None
    from codexbard.providers.claude.parse import parse_credentials

    argv = keychain_argv(ctx)
    try:
        result = await ctx.process.run(argv, timeout=ctx.remaining(KEYCHAIN_TIMEOUT), max_output=KEYCHAIN_MAX_OUTPUT)
    except CliMissing:
        raise NotConfigured(
            f"Claude Code credentials file not found and the macOS `security` tool cannot be run to read "
            f"{KEYCHAIN_ORIGIN}; run `claude` and log in") from None
    except Timeout:
        raise AuthRequired(
            f"reading {KEYCHAIN_ORIGIN} took longer than {KEYCHAIN_TIMEOUT:g} s (the keychain may be locked or "
            "waiting for you to allow access); unlock it and allow `security` to read the item") from None
    except ProviderError:  # output past the cap: not a credentials payload
        raise AuthRequired(f"{KEYCHAIN_ORIGIN} does not hold Claude Code credentials; {_RELOGIN}") from None
    if result.returncode == ITEM_NOT_FOUND_EXIT:
        return None
    if result.returncode != 0:
        raise AuthRequired(
            f"macOS `security` could not read {KEYCHAIN_ORIGIN} (exit status {result.returncode}; the keychain "
            "may be locked or access was denied); unlock the keychain or run `claude` and log in again")
    return parse_credentials(_payload_text(result.stdout), origin=KEYCHAIN_ORIGIN, source="keychain")
