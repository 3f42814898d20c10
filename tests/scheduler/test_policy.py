"""The error-kind policy table, tested once: every class carries its kind's row; backoff follows the class."""

from __future__ import annotations

import httpx
import pytest

from codexbard import errors
from codexbard.errors import (
    ERROR_KINDS,
    KIND_POLICIES,
    AuthRequired,
    CliMissing,
    ConnectionFailed,
    Internal,
    KindPolicy,
    NotConfigured,
    ParseError,
    ProviderError,
    RateLimited,
    Timeout,
    Unavailable,
    Unsupported,
    error_class,
    policy_for,
)
from codexbard.host.http import HttpClient
from codexbard.scheduler.backoff import (
    MAX_RETRY_AFTER_SECONDS,
    backoff_class,
    clamp_retry_after,
    failure_delay,
    is_connection_failure,
)
from tests.scheduler.kit import closed_port

# kind → (falls through, backoff class, soft)
EXPECTED = {
    "not_configured": (True, "credential", True),
    "auth_required": (True, "credential", False),
    "unsupported": (True, "credential", False),
    "cli_missing": (True, "credential", True),
    "rate_limited": (False, "rate", False),
    "unavailable": (False, "exponential", False),
    "timeout": (False, "exponential", False),
    "parse_error": (False, "exponential", False),
    "internal": (False, "exponential", False),
}

CLASSES = [NotConfigured, AuthRequired, Unsupported, CliMissing, RateLimited, Unavailable, Timeout, ParseError,
           Internal, ProviderError]


def test_the_table_covers_every_kind_exactly() -> None:
    assert set(KIND_POLICIES) == set(ERROR_KINDS)
    assert {k: (p.falls_through, p.backoff, p.soft) for k, p in KIND_POLICIES.items()} == EXPECTED


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_each_class_carries_its_kinds_row(cls: type[ProviderError]) -> None:
    error = cls("x")
    assert (error.falls_through, error.backoff, error.soft) == EXPECTED[cls.kind]
    assert error_class(cls.kind) is (Internal if cls is ProviderError else cls)


def test_connection_failed_is_unavailable_on_the_wire_with_its_own_backoff() -> None:
    error = ConnectionFailed("cannot connect")
    assert isinstance(error, Unavailable)
    assert (error.kind, error.falls_through, error.backoff, error.soft) == ("unavailable", False, "connection", False)
    assert error_class("unavailable") is Unavailable


def test_a_subclass_without_its_own_kind_inherits_an_override() -> None:
    class RefusedByProxy(ConnectionFailed):
        """A subclass that keeps its parent's kind."""

    assert RefusedByProxy("x").backoff == "connection"


def test_unknown_kinds_are_treated_as_internal() -> None:
    assert policy_for("from_the_future") == KindPolicy(falls_through=False, backoff="exponential", soft=False)
    assert policy_for("auth_required") is KIND_POLICIES["auth_required"]


def test_no_module_keeps_its_own_kind_sets() -> None:
    # The modules that used to hold string sets now read the table.
    import inspect

    from codexbard.providers import runner
    from codexbard.scheduler import backoff, jobs, poll

    for module in (runner, backoff, jobs, poll):
        source = inspect.getsource(module)
        assert '"cli_missing"' not in source and '"auth_required"' not in source, module.__name__
    assert errors.KIND_POLICIES is KIND_POLICIES


@pytest.mark.parametrize(
    ("kind", "backoff", "failures", "retry_after", "floor", "expected"),
    [
        ("unavailable", "connection", 1, None, 0, 30.0),
        ("unavailable", "connection", 2, None, 0, 60.0),
        ("unavailable", "connection", 3, None, 0, 120.0),
        ("unavailable", "connection", 40, None, 0, 120.0),
        ("timeout", "connection", 5, None, 300, 300.0),  # the provider's floor still holds
        ("rate_limited", None, 1, 1e12, 0, MAX_RETRY_AFTER_SECONDS),
        ("rate_limited", None, 1, float("inf"), 0, MAX_RETRY_AFTER_SECONDS),
        ("rate_limited", None, 1, float("nan"), 0, 300.0),
        ("rate_limited", None, 1, -5.0, 0, 300.0),
        ("from_the_future", None, 1, None, 0, 600.0),
    ],
)
def test_failure_delay_by_backoff_class(kind: str, backoff: str | None, failures: int, retry_after: float | None,
                                        floor: int, expected: float) -> None:
    assert failure_delay(kind, 300, failures, retry_after, floor, backoff=backoff) == expected  # type: ignore[arg-type]


def test_clamp_retry_after() -> None:
    assert [clamp_retry_after(v) for v in (None, -1.0, float("nan"), 0.0, 120.5, 1e12)] == [
        None, None, None, 0.0, 120.5, 86400.0,
    ]


def test_connection_failures_are_recognised_through_the_exception_chain() -> None:
    def raised_from(cause: BaseException, error: ProviderError) -> ProviderError:
        try:
            try:
                raise cause
            except BaseException:
                raise error from None
        except ProviderError as caught:
            return caught

    request = httpx.Request("GET", "http://127.0.0.1/")
    refused = raised_from(httpx.ConnectError("refused", request=request), Unavailable("cannot connect"))
    upstream = raised_from(httpx.RemoteProtocolError("closed", request=request), Unavailable("closed"))
    connect_timeout = raised_from(httpx.ConnectTimeout("slow", request=request), Timeout("no answer"))
    read_timeout = raised_from(httpx.ReadTimeout("slow", request=request), Timeout("no answer"))
    assert [backoff_class(e) for e in (refused, upstream, connect_timeout, read_timeout)] == [
        "connection", "exponential", "connection", "exponential",
    ]
    assert is_connection_failure(ConnectionFailed("down")) is True
    # A credential failure stays a credential failure whatever it was raised from.
    assert backoff_class(raised_from(ConnectionRefusedError(), AuthRequired("no"))) == "credential"


async def test_a_refused_connection_through_the_host_client_backs_off_as_connection() -> None:
    client = HttpClient()
    try:
        with pytest.raises(Unavailable) as info:
            await client.get(f"http://127.0.0.1:{closed_port()}/", service="Alpha")
    finally:
        await client.aclose()
    assert info.value.kind == "unavailable"
    assert backoff_class(info.value) == "connection"
