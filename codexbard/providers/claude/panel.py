"""Pure parser of Claude Code's `/usage` panel (and `/status` text) as rendered on a terminal screen.

Input is the plain text of the rendered screen (the PTY session in `codexbard.host` renders it so cursor
movement does not garble it); leftover ANSI sequences are stripped here anyway. Output is a `UsageSnapshot`
or a typed error: a login prompt or an auth failure → AuthRequired, a rate-limit notice → RateLimited, a
folder-trust prompt / "still loading" / an empty screen / "Failed to load usage data" → Unavailable, a panel
without a session percentage → ParseError. A subscription notice without quota data is not an error: it
gives a snapshot without windows (the sheet's "limits unavailable").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from codexbard.errors import AuthRequired, ParseError, ProviderError, RateLimited, Unavailable
from codexbard.models import Identity, NamedWindow, RateWindow, UsageSnapshot, WindowValue
from codexbard.providers.claude.const import (
    CLI_RATE_LIMIT_BLOCK,
    COMPACT_PLAN_LABELS,
    MODEL_LABEL,
    PLAN_WORDS,
    SCOPED_WINDOW_PREFIX,
    SESSION_LABEL,
    SESSION_MINUTES,
    WEEKLY_LABEL,
    WEEKLY_MINUTES,
)
from codexbard.providers.coerce import percent, slug

SESSION_TEXT: Final = "Current session"
WEEKLY_TEXT: Final = "Current week (all models)"
MODEL_TEXTS: Final = ("Current week (Opus)", "Current week (Sonnet only)", "Current week (Sonnet)")
# Percent and reset search windows after a label line (the label line included).
PERCENT_LINES: Final = 12
RESET_LINES: Final = 14

_ANSI: Final = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS / SOS / PM / APC
    r"|\x1b[@-Z\\-_]"  # two-character escapes
    r"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"  # other control characters (tab and newlines stay)
)
_PERCENT: Final = re.compile(r"([0-9]{1,3}(?:\.[0-9]+)?)\s*%")
_WEEK_MODEL: Final = re.compile(r"current\s*week\s*\(([^)]+)\)", re.IGNORECASE)
_RESET_WORD: Final = re.compile(r"(?i)\bresets?\b")
_RESET_GLUED: Final = re.compile(r"\b(?:Reset|Resets)(?=[A-Z0-9])")
_SESSION_VALUE: Final = re.compile(r"currentsession.*?\d{1,3}(?:\.\d+)?%", re.DOTALL)
_USED_WORDS: Final = ("used", "spent", "consumed")
_LEFT_WORDS: Final = ("left", "remaining", "available")
_STATUS_BAR_MODELS: Final = ("opus", "sonnet", "haiku", "default")
_AUTH_MARKERS: Final = (
    "authentication_error",
    "permission_error",
    "token_expired",
    "token expired",
    "token has expired",
    "oauth account information not found",
    "does not have access to claude code",
    "run /login",
    "run `claude login`",
    "run claude login",
    "api error: 401",
    "api error: 403",
    "forbidden",
    "invalid api key",
    "invalid_api_key",
    "invalid credential",
    "not authenticated",
    "not authorized",
    "token revoked",
    "unauthorized",
)
# Claude Code's login screen (shown instead of the panel when it has no usable login).
_LOGIN_PROMPTS: Final = (
    "select login method",
    "claude account with subscription",
    "anthropic console account",
    "please run /login",
    "missing api key",
    "not logged in",
    "please log in",
    "log in to claude",
)
_RELOGIN: Final = "run `claude` and log in (/login)"


def strip_ansi(text: str) -> str:
    """Remove escape sequences and control characters; `\\r\\n` and lone `\\r` become `\\n`."""
    unified = text.replace("\r\n", "\n").replace("\r", "\n")
    return _ANSI.sub("", unified)


def normalize(text: str) -> str:
    """Lower-case alphanumerics only (the label-matching form)."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


def compact(text: str) -> str:
    """Lower-case with all whitespace removed (the scan form of the capture)."""
    return "".join(text.lower().split())


# --- Percent and label rules --------------------------------------------------------------------------------------


def is_status_bar_line(line: str) -> bool:
    """A status-bar line (`| Opus 4 | 0%`): contains `|` and a model word; never read as usage."""
    if "|" not in line:
        return False
    lower = line.lower()
    return any(word in lower for word in _STATUS_BAR_MODELS)


def percent_left(line: str) -> float | None:
    """The percent *left* a line states (`23% used` → 77, `40% left` → 40); None without a usage word."""
    if is_status_bar_line(line):
        return None
    match = _PERCENT.search(line)
    if match is None:
        return None
    value = percent(float(match.group(1)))
    lower = line.lower()
    if any(word in lower for word in _USED_WORDS):
        return percent(100.0 - value)
    if any(word in lower for word in _LEFT_WORDS):
        return value
    return None


def weekly_model(line: str) -> str | None:
    """The model in a `Current week (<model>)` line, trimmed."""
    match = _WEEK_MODEL.search(line)
    if match is None:
        return None
    name = match.group(1).strip()
    return name or None


def _edit_distance(left: str, right: str) -> int:
    row = list(range(len(right) + 1))
    for i, a in enumerate(left, 1):
        previous, row[0] = row[0], i
        for j, b in enumerate(right, 1):
            current = min(row[j] + 1, row[j - 1] + 1, previous + (a != b))
            previous, row[j] = row[j], current
    return row[len(right)]


def is_all_models(normalized_model: str) -> bool:
    """`allmodels`, or a garbled copy of it within edit distance 2 (`allmodls`)."""
    return normalized_model == "allmodels" or _edit_distance(normalized_model, "allmodels") <= 2


def _matches(line: str, label: str, fuzzy: bool) -> bool:
    expected = weekly_model(label)
    if expected is None:
        return normalize(label) in normalize(line)
    actual = weekly_model(line)
    if actual is None:
        return False
    if fuzzy and is_all_models(normalize(expected)):
        return is_all_models(normalize(actual))
    return normalize(actual) == normalize(expected)


def _crosses(line: str, label: str, fuzzy: bool) -> bool:
    """A line starting with `Current` that belongs to a different label ends the search."""
    normalized = normalize(line)
    if not normalized.startswith("current"):
        return False
    expected = weekly_model(label)
    if expected is None:
        return normalize(label) not in normalized
    actual = weekly_model(line)
    if actual is None:
        return True
    if fuzzy and is_all_models(normalize(expected)):
        return not is_all_models(normalize(actual))
    return normalize(actual) != normalize(expected)


def clean_reset(raw: str) -> str:
    """Trim ` )` at the ends, repair `Mar 6 t 3am` → `Mar 6 at 3am`, close an unbalanced `(`."""
    cleaned = raw.strip().strip(" )")
    cleaned = re.sub(r"(?i)\b([A-Za-z]{3}\s+\d{1,2})\s+t\s+(\d)", r"\1 at \2", cleaned)
    if cleaned.count("(") > cleaned.count(")"):
        cleaned += ")"
    return cleaned


def reset_in_line(line: str) -> str | None:
    """The reset text of a line: from `Reset`/`Resets` to the end, cleaned."""
    match = _RESET_WORD.search(line) or _RESET_GLUED.search(line)
    if match is None:
        return None
    return clean_reset(line[match.start():])


def _scan(lines: list[str], label: str, span: int, fuzzy: bool) -> list[str]:
    """Lines after each match of `label` (label line included) up to `span`, cut at a foreign label."""
    found: list[str] = []
    for index, line in enumerate(lines):
        if not _matches(line, label, fuzzy):
            continue
        for candidate in lines[index:index + span]:
            if _crosses(candidate, label, fuzzy):
                break
            found.append(candidate)
        found.append("\x00")  # separates the windows of two matches
    return found


def _first_percent(lines: list[str], label: str) -> float | None:
    for fuzzy in (False, True):  # an exact copy of the label wins over a garbled one
        for line in _scan(lines, label, PERCENT_LINES, fuzzy):
            value = percent_left(line) if line != "\x00" else None
            if value is not None:
                return value
    return None


def _first_reset(lines: list[str], label: str) -> str | None:
    for fuzzy in (False, True):
        for line in _scan(lines, label, RESET_LINES, fuzzy):
            value = reset_in_line(line) if line != "\x00" else None
            if value is not None:
                return value
    return None


def _first_percent_of(lines: list[str], labels: tuple[str, ...]) -> float | None:
    for label in labels:
        value = _first_percent(lines, label)
        if value is not None:
            return value
    return None


def _first_reset_of(lines: list[str], labels: tuple[str, ...]) -> str | None:
    for label in labels:
        value = _first_reset(lines, label)
        if value is not None:
            return value
    return None


def latest_panel(text: str) -> str | None:
    """The text from the last `Settings:` when it looks like the usage panel (older fragments dropped)."""
    index = text.lower().rfind("settings:")
    if index < 0:
        return None
    tail = text[index:]
    lower = tail.lower()
    if "usage" not in lower:
        return None
    has_words = any(word in lower for word in ("used", "left", "remaining", "available"))
    if ("%" in lower and has_words) or "loading usage" in lower:
        return tail
    return None


def all_percents(text: str) -> list[float]:
    """Every percent-left in order, only for a panel with quota labels and usage words (fallback for layout drift)."""
    squeezed = compact(text)
    has_windows = "currentsession" in squeezed or "currentweek" in squeezed
    if not has_windows:
        return []
    if not any(word in squeezed for word in ("used", "left", "remaining", "available")):
        return []
    return [value for line in text.split("\n") if (value := percent_left(line)) is not None]


# --- Errors and notices -----------------------------------------------------------------------------------------


def _auth_or_unavailable(message: str) -> ProviderError:
    lower = message.lower()
    if any(marker in lower for marker in _AUTH_MARKERS):
        return AuthRequired(message)
    return Unavailable(message)


def _json_error(text: str) -> ProviderError | None:
    """`Failed to load usage data: {"error": {...}}` → a typed error (None when there is no such JSON)."""
    match = re.search(r"Failed\s*to\s*load\s*usage\s*data:\s*(\{.*\})", text, re.DOTALL)
    if match is None:
        return None
    body = match.group(1).replace("\r", "").replace("\n", "")
    payload: object = None
    # The capture may continue after the JSON: retry with shorter candidates ending at each `}`.
    for end in [i + 1 for i, ch in enumerate(body) if ch == "}"][::-1]:
        try:
            payload = json.loads(body[:end])
            break
        except ValueError:
            continue
    if not isinstance(payload, dict) or not isinstance(payload.get("error"), dict):
        return None
    error = payload["error"]
    message = error.get("message").strip() if isinstance(error.get("message"), str) else ""
    details: dict[str, object] = error["details"] if isinstance(error.get("details"), dict) else {}
    raw_code = details.get("error_code")
    code = raw_code.strip() if isinstance(raw_code, str) else ""
    kind = error.get("type").strip().lower() if isinstance(error.get("type"), str) else ""
    if kind == "rate_limit_error":
        return RateLimited("Claude CLI usage endpoint is rate limited right now", retry_after=CLI_RATE_LIMIT_BLOCK)
    hint = " ".join(part for part in (message, f"({code})" if code else "") if part)
    if not hint:
        return None
    if "token" in code.lower():
        return AuthRequired(f"Claude CLI: {hint}; {_RELOGIN}")
    if kind in ("authentication_error", "permission_error"):
        return AuthRequired(f"Claude CLI authentication error: {hint}; {_RELOGIN}")
    return _auth_or_unavailable(f"Claude CLI error: {hint}")


def _failure_line(text: str) -> str:
    matches = re.findall(r"failed\s*to\s*load\s*usage\s*data[^\n]*", text, re.IGNORECASE)
    return matches[-1].lower() if matches else ""


def is_subscription_notice_only(text: str) -> bool:
    """The "currently using your subscription to power your Claude Code usage" notice without quota data."""
    squeezed = compact(text)
    if "currentlyusingyoursubscription" not in squeezed or "claudecodeusage" not in squeezed:
        return False
    quota = ("currentsession", "currentweek", "%used", "%left", "%remaining", "%available")
    return not any(word in squeezed for word in quota)


def _has_session_value(squeezed: str) -> bool:
    return _SESSION_VALUE.search(squeezed) is not None


def is_still_loading(text: str) -> bool:
    """`Loading usage…` without any session value or usage percentage."""
    squeezed = compact(text)
    return "loadingusage" in squeezed and not _has_session_value(squeezed) and not all_percents(text)


def looks_like_usage(text: str) -> bool:
    """Whether a capture shows the usage panel at all (else the session captures once more)."""
    squeezed = compact(strip_ansi(text))
    markers = ("currentsession", "currentweek", "loadingusage", "failedtoloadusagedata")
    return any(marker in squeezed for marker in markers) or (
        "currentlyusingyoursubscription" in squeezed and "claudecodeusage" in squeezed
    )


def usage_error(text: str) -> ProviderError | None:
    """The error a capture shows instead of usage, or None (a subscription notice is not an error)."""
    if (json_error := _json_error(text)) is not None:
        return json_error
    lower = text.lower()
    squeezed = compact(text)
    if "do you trust the files in this folder?" in lower and "current session" not in lower:
        return Unavailable(
            "Claude CLI is waiting at its folder-trust prompt; run `claude` once in the probe folder and "
            "choose \"Yes, proceed\", then retry"
        )
    failure = _failure_line(text)
    if "token_expired" in failure or "token has expired" in failure:
        return AuthRequired(f"Claude CLI token expired; {_RELOGIN}")
    if "authentication_error" in failure:
        return AuthRequired(f"Claude CLI authentication error; {_RELOGIN}")
    if "rate_limit_error" in failure or "rate limited" in failure or "ratelimited" in "".join(failure.split()):
        return RateLimited("Claude CLI usage endpoint is rate limited right now", retry_after=CLI_RATE_LIMIT_BLOCK)
    if is_subscription_notice_only(text):
        return None
    if "failedtoloadusagedata" in squeezed:
        return Unavailable("Claude CLI could not load usage data; open `claude` and retry /usage")
    no_quota = "currentsession" not in squeezed and "currentweek" not in squeezed
    if no_quota and (any(prompt in lower for prompt in _LOGIN_PROMPTS) or any(m in lower for m in _AUTH_MARKERS)):
        return AuthRequired(f"Claude CLI is not logged in; {_RELOGIN}")
    return None


# --- Identity -----------------------------------------------------------------------------------------------------

_EMAIL_PATTERNS: Final = (
    re.compile(r"(?i)Account:\s+([^\s@]+@[^\s@]+)"),
    re.compile(r"(?i)Email:\s+([^\s@]+@[^\s@]+)"),
)
_LOOSE_PATTERNS: Final = (re.compile(r"(?i)Account:\s+(\S+)"), re.compile(r"(?i)Email:\s+(\S+)"))
_ANY_EMAIL: Final = re.compile(r"(?i)([A-Z0-9._%+-]+@[A-Z0-9.-]+\.[A-Z]{2,})")
_ORG_PATTERNS: Final = (re.compile(r"(?i)Org:\s*(.+)"), re.compile(r"(?i)Organization:\s*(.+)"))
_LOGIN_METHOD: Final = re.compile(r"(?i)login\s+method:\s*(.+)")
_CLAUDE_PHRASE: Final = re.compile(r"(?i)(claude[ \t]+[a-z0-9][a-z0-9 \t._-]{0,24})")


def _first(patterns: tuple[re.Pattern[str], ...], *texts: str) -> str | None:
    for text in texts:
        for pattern in patterns:
            match = pattern.search(text)
            if match and match.group(1).strip():
                return match.group(1).strip()
    return None


def clean_plan(text: str) -> str:
    """Drop ANSI leftovers (`[22m`) and the words claude/codex/account/plan; capitalise the first letter."""
    stripped = strip_ansi(text)
    cleaned = re.sub(r"^\s*(?:\[\d{1,3}m\s*)+", "", stripped)
    cleaned = re.sub(r"(?i)\b(claude|codex|account|plan)\b", "", cleaned)
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        cleaned = stripped.strip()
    return cleaned[:1].upper() + cleaned[1:] if cleaned[:1].islower() else cleaned


def compact_plan(text: str) -> str:
    """`Max`, `Pro`, `Team`, `Enterprise`, `Ultra` when a plan word is present, else the text itself."""
    words = re.findall(r"[^\W_]+", text.lower())
    plan = next((p for p in PLAN_WORDS if p in words), None)
    return COMPACT_PLAN_LABELS[plan] if plan else text


def _login_method(text: str) -> str | None:
    if not text:
        return None
    explicit = _LOGIN_METHOD.search(text)
    if explicit and explicit.group(1).strip():
        return compact_plan(clean_plan(explicit.group(1).strip()))
    for match in _CLAUDE_PHRASE.finditer(text):
        candidate = compact_plan(clean_plan(match.group(1)))
        if "code" not in candidate.lower():
            return candidate
    return None


def panel_identity(usage_text: str, status_text: str | None = None) -> Identity | None:
    """Email, organization and plan from the `/usage` and `/status` texts (usage first for email and org)."""
    status = status_text or ""
    email = (
        _first(_EMAIL_PATTERNS, usage_text, status)
        or _first(_LOOSE_PATTERNS, usage_text, status)
        or _first((_ANY_EMAIL,), usage_text, status)
    )
    organization = _first(_ORG_PATTERNS, usage_text, status)
    if organization and email and organization.lower().startswith(email.lower()):
        organization = None
    login = _login_method(status) or _login_method(usage_text)
    if email is None and organization is None and login is None:
        return None
    return Identity(account_email=email, account_organization=organization, login_method=login)


# --- Reset text → instant -------------------------------------------------------------------------------------------

_MONTH_NAMES: Final = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
                       "october", "november", "december")
_MON: Final = r"(?P<mon>[A-Za-z]{3,9})\.?"
_AMPM: Final = r"(?P<ap>[AaPp]\.?[Mm]\.?)"
_HM: Final = rf"(?P<h>\d{{1,2}}):(?P<m>\d{{2}})(?:\s?{_AMPM})?"
_H_AMPM: Final = rf"(?P<h>\d{{1,2}})\s?{_AMPM}"
_H_24: Final = r"(?P<h>\d{1,2})"
_WITH_YEAR: Final = tuple(
    re.compile(rf"^{_MON}\s(?P<d>\d{{1,2}}),?\s(?P<y>\d{{4}}),?\s{time}$")
    for time in (_HM, _H_AMPM, _H_24)
)
_MONTH_DAY: Final = tuple(re.compile(rf"^{_MON}\s(?P<d>\d{{1,2}}),?\s{time}$") for time in (_HM, _H_AMPM))
_TIME_ONLY: Final = tuple(re.compile(rf"^{time}$") for time in (_HM, _H_AMPM))


def _zone(name: str) -> tzinfo | None:
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return None


def normalize_reset(text: str) -> tuple[str, tzinfo | None] | None:
    """Apply the sheet's repairs to a reset text; return it with the parenthesised IANA zone, if any."""
    raw = text.strip()
    if not raw:
        return None
    raw = re.sub(r"(?i)^resets?:?\s*", "", raw)
    raw = re.sub(r"(?i) at ", " ", raw)
    raw = re.sub(r"(?i)\b([A-Za-z]{3})(\d)", r"\1 \2", raw)
    raw = re.sub(r",(\d)", r", \1", raw)
    raw = re.sub(r"(?i)(\d)at(?=\d)", r"\1 ", raw)
    raw = re.sub(r"(?<=\d)\.(\d{2})(?!\d)", r":\1", raw)  # `10.30pm` too, not only `10.30 pm`
    zone: tzinfo | None = None
    match = re.search(r"\(([^)]+)\)", raw)
    if match:
        zone = _zone(match.group(1))
        raw = (raw[: match.start()] + raw[match.end():]).strip()
    raw = " ".join(raw.split())
    return (raw, zone) if raw else None


def _month(name: str) -> int | None:
    lower = name.lower()
    for index, full in enumerate(_MONTH_NAMES):
        if lower == full or lower == full[:3]:
            return index + 1
    return None


def _hour(match: re.Match[str]) -> tuple[int, int] | None:
    hour = int(match.group("h"))
    minute = int(match.group("m")) if "m" in match.groupdict() and match.group("m") else 0
    ampm = match.groupdict().get("ap")
    if minute > 59:
        return None
    if ampm:
        if not 1 <= hour <= 12:
            return None
        pm = ampm.lower().startswith("p")
        hour = hour % 12 + (12 if pm else 0)
    elif hour > 23:
        return None
    return hour, minute


def _occurrences(day: date, hour: int, minute: int, zone: tzinfo) -> list[datetime]:
    """Every instant whose wall time in `zone` is `day hour:minute` (none in a DST gap, two in a repeat)."""
    naive = datetime(day.year, day.month, day.day, hour, minute)
    found: list[datetime] = []
    for fold in (0, 1):
        instant = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == naive and instant not in found:
            found.append(instant)
    return found


def _resolve(candidates: list[datetime], now: datetime, window: float | None) -> datetime | None:
    ordered = sorted(candidates)
    if not ordered:
        return None
    future = next((c for c in ordered if c >= now), None)
    if future is None:
        return ordered[-1]
    if window is None:
        return future
    horizon = max(0.0, window)
    past = next((c for c in reversed(ordered) if c < now), None)
    past_ok = past is not None and (now - past).total_seconds() <= horizon
    future_ok = (future - now).total_seconds() <= horizon
    return past if past_ok and not future_ok and past is not None else future


def parse_reset_text(
    text: str | None, *, now: datetime, tz: tzinfo | None = None, window_seconds: float | None = None
) -> datetime | None:
    """Turn `Resets Mar 6 at 3am (America/Chicago)` / `Resets 2pm` into an instant (UTC), or None.

    The zone is the parenthesised IANA name, else `tz`, else the local zone. Month-day forms take the first
    occurrence >= now among years now-8..now+8, time-only forms yesterday/today/tomorrow; a future occurrence
    further away than `window_seconds` yields to a past one within it.
    """
    if not text:
        return None
    normalized = normalize_reset(text)
    if normalized is None:
        return None
    raw, named = normalized
    zone = named or tz or UTC  # callers pass the user's zone (host.clock.local_zone of the context's env)
    local_now = now.astimezone(zone)
    for pattern in _WITH_YEAR:
        match = pattern.match(raw)
        if match and (month := _month(match.group("mon"))) and (clock := _hour(match)):
            try:
                day = date(int(match.group("y")), month, int(match.group("d")))
            except ValueError:
                return None
            return _resolve(_occurrences(day, *clock, zone), now, window_seconds)
    for pattern in _MONTH_DAY:
        match = pattern.match(raw)
        if match and (month := _month(match.group("mon"))) and (clock := _hour(match)):
            candidates: list[datetime] = []
            for year in range(local_now.year - 8, local_now.year + 9):
                try:
                    day = date(year, month, int(match.group("d")))
                except ValueError:
                    continue
                candidates.extend(_occurrences(day, *clock, zone))
            return _resolve(candidates, now, window_seconds)
    for pattern in _TIME_ONLY:
        match = pattern.match(raw)
        if match and (clock := _hour(match)):
            today = local_now.date()
            candidates = []
            for offset in (-1, 0, 1):
                candidates.extend(_occurrences(today + timedelta(days=offset), *clock, zone))
            return _resolve(candidates, now, window_seconds)
    return None


# --- The panel → snapshot -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scoped:
    model: str
    left: float
    reset: str | None


def _scoped(lines: list[str]) -> list[_Scoped]:
    """Every `Current week (<model>)` other than all-models, last occurrence per model winning (first position)."""
    order: dict[str, int] = {}
    found: list[_Scoped] = []
    for index, line in enumerate(lines):
        model = weekly_model(line)
        if model is None:
            continue
        key = normalize(model)
        if not key or is_all_models(key):
            continue
        left: float | None = None
        reset: str | None = None
        for candidate in lines[index:index + RESET_LINES]:
            if _crosses(candidate, line, False):
                break
            if left is None:
                left = percent_left(candidate)
            if reset is None:
                reset = reset_in_line(candidate)
        if left is None:
            continue
        item = _Scoped(model, left, reset)
        if key in order:
            found[order[key]] = item
        else:
            order[key] = len(found)
            found.append(item)
    return found


def parse_panel(
    usage_text: str, status_text: str | None = None, *, now: datetime | None = None, tz: tzinfo | None = None
) -> UsageSnapshot:
    """Parse a rendered `/usage` capture (and optional `/status` text) into a snapshot or a typed error.

    Windows: session → primary (300 min), all-models week → secondary, Opus/Sonnet week → tertiary (10080),
    other `Current week (<model>)` → extra windows. `resetDescription` is the raw reset text; `resetsAt` its
    instant in the text's zone (else `tz`, else local).
    """
    moment = now or datetime.now(UTC)
    clean = strip_ansi(usage_text)
    status = strip_ansi(status_text) if status_text else None
    if not clean.strip():
        raise Unavailable("Claude CLI showed nothing for /usage (empty screen)")
    error = usage_error(clean)
    if error is not None:
        raise error
    identity = panel_identity(clean, status)
    if is_subscription_notice_only(clean):
        # Some Education/managed plans: no quota to show. Not an error: identity (and local cost) stay visible.
        return UsageSnapshot(identity=identity)
    panel = latest_panel(clean)
    text = panel if panel is not None else clean
    if is_still_loading(text):
        raise Unavailable("Claude CLI /usage is still loading usage data")
    lines = text.split("\n")
    session_left = _first_percent(lines, SESSION_TEXT)
    if session_left is None:
        ordered = all_percents(text)
        session_left = ordered[0] if ordered else None
    if session_left is None:
        raise ParseError("Claude CLI /usage panel could not be read (missing Current session)")
    weekly_left = _first_percent(lines, WEEKLY_TEXT)
    model_left = _first_percent_of(lines, MODEL_TEXTS)
    models = {normalize(m) for line in lines if (m := weekly_model(line))}
    has_weekly = any(is_all_models(m) for m in models)
    has_model = bool(models & {"opus", "sonnetonly", "sonnet"})
    session_reset = _first_reset(lines, SESSION_TEXT)
    weekly_reset = _first_reset(lines, WEEKLY_TEXT) if has_weekly else None
    model_reset = _first_reset_of(lines, MODEL_TEXTS) if has_model else None

    def window(left: float | None, minutes: int, label: str, reset: str | None) -> RateWindow | None:
        if left is None:
            return None
        return RateWindow(
            used_percent=percent(100.0 - left),
            window_minutes=minutes,
            resets_at=parse_reset_text(reset, now=moment, tz=tz, window_seconds=minutes * 60.0),
            reset_description=reset,
            label=label,
        )

    extra: list[NamedWindow] = []
    for item in _scoped(lines):
        key = normalize(item.model)
        if key in ("opus", "sonnet", "sonnetonly"):
            continue
        reset = item.reset or weekly_reset
        extra.append(NamedWindow(
            id=SCOPED_WINDOW_PREFIX + slug(item.model),
            title=item.model if key.endswith("only") else f"{item.model} only",
            window=WindowValue(
                used_percent=percent(100.0 - item.left),
                window_minutes=WEEKLY_MINUTES,
                resets_at=parse_reset_text(reset, now=moment, tz=tz, window_seconds=WEEKLY_MINUTES * 60.0),
                reset_description=reset,
            ),
        ))
    return UsageSnapshot(
        primary=window(session_left, SESSION_MINUTES, SESSION_LABEL, session_reset),
        secondary=window(weekly_left, WEEKLY_MINUTES, WEEKLY_LABEL, weekly_reset),
        tertiary=window(model_left, WEEKLY_MINUTES, MODEL_LABEL, model_reset),
        extra_rate_windows=extra,
        identity=identity,
    )
