"""Tests for codexbard.host.redact: secrets scrubbed from upstream text, and short summaries."""

from __future__ import annotations

import pytest

from codexbard.host.redact import scrub, summarize

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJl"


def test_known_secrets_are_replaced() -> None:
    text = "invalid key zk-my-own-secret-value for user"
    assert scrub(text, ["zk-my-own-secret-value"]) == "invalid key *** for user"
    assert scrub("a abcd b abcd", ["abcd", None, ""]) == "a *** b ***"


def test_very_short_known_secrets_are_left_alone() -> None:
    # Replacing 1-3 characters would shred ordinary words without protecting anything.
    assert scrub("the cat sat", ["at"]) == "the cat sat"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.DEF-123_~+/=", "Authorization: Bearer ***"),
        ("bearer xyz", "bearer ***"),
        # The value runs to the next space, quote, comma or brace: over-redacting is the safe side.
        ("api_key=abcd1234&x=1 next", "api_key=*** next"),
        ("apikey: abcd1234", "apikey: ***"),
        ("API-KEY=abcd", "API-KEY=***"),
        ('{"token": "tok-value", "n": 1}', '{"token": "***", "n": 1}'),
        ('{"password":"hunter2"}', '{"password":"***"}'),
        ("secret=s3cr3t other", "secret=*** other"),
        ("cookie: session=abc", "cookie: ***"),
        ("key sk-proj-abcdefgh1234 rejected", "key *** rejected"),
        ("keys wk-abcdef and rk-123456_-x", "keys *** and ***"),
        (f"jwt {JWT} end", "jwt *** end"),
    ],
)
def test_shapes_of_secrets_are_replaced(text: str, expected: str) -> None:
    assert scrub(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Rate limit exceeded, try again in 5 minutes",
        "sk-abc is too short to be a key",
        "task-12345 finished",
        "eyJ alone",
        "",
    ],
)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert scrub(text) == text


def test_summarize() -> None:
    assert summarize("  a\n\n b\t c  ") == "a b c"
    assert summarize("x" * 200) == "x" * 200
    assert summarize("x" * 201) == "x" * 200 + "..."
    assert summarize("one two three", limit=7) == "one two..."
    assert summarize("") == ""
