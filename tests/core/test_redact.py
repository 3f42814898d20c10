"""Tests for codexbard.host.redact: secrets scrubbed from upstream text, and short summaries."""

from __future__ import annotations

import pytest

from codexbard.host.redact import excerpt, scrub, summarize

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


# --- fragments, case and masks of known secrets (issue 6, item 12) -------------------------------

CANARY = "0123456789CanaryZaiSecret"


def leaks(text: str, secret: str, size: int = 8) -> list[str]:
    """Every `size`-long piece of `secret` that shows in `text`, ignoring case."""
    folded, lowered = secret.lower(), text.lower()
    return [folded[i : i + size] for i in range(len(folded) - size + 1) if folded[i : i + size] in lowered]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"key {CANARY} rejected", "key *** rejected"),
        (f"key {CANARY.upper()} rejected", "key *** rejected"),
        (f"key {CANARY.lower()} rejected", "key *** rejected"),
        # Masked the way upstreams quote keys: the mask and the short piece beyond it go too.
        ("key 0123…CanaryZaiSec**** rejected", "key *** rejected"),
        ("key 0123...ZaiSecret rejected", "key *** rejected"),
        ("key ****CanaryZaiSecret rejected", "key *** rejected"),
        ("key 01234567•••• rejected", "key *** rejected"),
        # Truncated: any piece of 8 characters or more.
        ("key 0123456789Can", "key ***"),
        ("key yZaiSecr!", "key ***!"),
        ('{"msg": "bad key CANARYZAISEC"}', '{"msg": "bad key ***"}'),
        # Text around a bare fragment stays; pieces shorter than 8 stay (they identify nothing).
        (f"yyyy{CANARY}yyyy", "yyyy***yyyy"),
        ("key 0123…cret", "key 0123…cret"),
        ("Canary is a bird", "Canary is a bird"),
    ],
)
def test_fragments_of_known_secrets_are_replaced(text: str, expected: str) -> None:
    assert scrub(text, [CANARY]) == expected
    assert leaks(scrub(text, [CANARY]), CANARY) == []


def test_short_secrets_are_replaced_whole_in_any_case() -> None:
    assert scrub("key AbCd1 and abcd1", ["abcd1"]) == "key *** and ***"
    assert scrub("key abcd", ["abcd1"]) == "key abcd"  # a piece of a short secret is not one


def test_scrub_on_a_large_body_keeps_what_is_not_secret() -> None:
    body = ("filler " * 100_000) + CANARY.upper() + " end"
    out = scrub(body, [CANARY])
    assert out.endswith("filler *** end")
    assert leaks(out, CANARY) == []


def test_excerpt_scrubs_before_cutting() -> None:
    # A key straddling the 200-character cut: cut first, its first characters would survive.
    text = "y" * 189 + " " + CANARY + " tail"
    assert summarize(text)[190:] == CANARY[:10] + "..."  # what cutting first would keep
    assert excerpt(text, [CANARY]) == "y" * 189 + " *** tail"
    assert excerpt("  many\n\n  spaces ", [CANARY]) == "many spaces"
    assert excerpt("x" * 300, [CANARY], 10) == "x" * 10 + "..."


def test_excerpt_of_a_huge_text_is_cut_and_scrubbed() -> None:
    text = CANARY[:12] + "…**** " + "z" * (5 * 1024 * 1024)
    out = excerpt(text, [CANARY], 40)
    assert out == "*** " + "z" * 36 + "..."


def test_excerpt_drops_text_that_shows_a_secret_too_short_to_scrub() -> None:
    assert excerpt("your key is ab", ["ab"]) == ""
    assert excerpt("no secret here", ["zq"]) == "no secret here"
