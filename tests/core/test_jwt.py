"""Tests for codexbard.host.jwt: claims decoded without verifying, every malformed form gives None."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from codexbard.host.jwt import MAX_TOKEN_CHARS, claim, decode_claims


def segment(data: bytes, *, pad: bool = False) -> str:
    text = base64.urlsafe_b64encode(data).decode()
    return text if pad else text.rstrip("=")


def token(payload: Any, *, pad: bool = False) -> str:
    header = segment(b'{"alg":"RS256","typ":"JWT"}')
    return f"{header}.{segment(json.dumps(payload).encode(), pad=pad)}.c2lnbmF0dXJl"


ID_CLAIMS = {
    "email": "sam.rivera@example.org",
    "https://api.openai.com/auth": {"chatgpt_plan_type": "plus", "chatgpt_account_id": "acct-synthetic-7f3a"},
    "https://api.openai.com/profile": {"email": "sam.rivera@example.org"},
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (token(ID_CLAIMS), ID_CLAIMS),
        (token(ID_CLAIMS, pad=True), ID_CLAIMS),
        (token({"sub": "a"}), {"sub": "a"}),  # "eyJzdWIiOiAiYSJ9": needs one "=" of padding
        (token({"sub": "ab"}), {"sub": "ab"}),  # needs two
        (token({"sub": "abc"}), {"sub": "abc"}),  # needs none
        ("  Bearer " + token({"sub": "x"}) + "\n", {"sub": "x"}),
        ("bearer " + token({"sub": "x"}), {"sub": "x"}),
        (token({"name": "Zoë ✓"}), {"name": "Zoë ✓"}),
        ("h." + segment(b'{"only":"two segments"}'), {"only": "two segments"}),
        ("eyJhbGciOiJSUzI1NiJ9.SYNTHETIC-ID-PAYLOAD.sig", None),  # the sheets' placeholder tokens
        ("", None),
        ("   ", None),
        ("Bearer ", None),
        ("no-dots-at-all", None),
        ("a..c", None),
        ("a.!!!.c", None),
        ("a." + segment(b"[1, 2]") + ".c", None),  # JSON, but not an object
        ("a." + segment(b'"text"') + ".c", None),
        ("a." + segment(b"null") + ".c", None),
        ("a." + segment(b"{not json") + ".c", None),
        ("a." + segment(b'{"k": "\xff\xfe"}') + ".c", None),  # not UTF-8
        ("a." + segment(b"[" * 100_000 + b"]" * 100_000)[:MAX_TOKEN_CHARS] + ".c", None),
        ("a.abcde.c", None),  # 5 chars: impossible base64 length
        ("a." + "A" * MAX_TOKEN_CHARS + ".c", None),  # over-long token
        (None, None),
        (12345, None),
        (b"a.b.c", None),
    ],
)
def test_decode_claims(raw: object, expected: dict[str, Any] | None) -> None:
    assert decode_claims(raw) == expected


def test_deeply_nested_payload_is_none_not_a_crash() -> None:
    deep = b"[" * 5000 + b"]" * 5000
    assert decode_claims("h." + segment(b'{"a":' + deep + b"}") + ".s") is None


def test_url_safe_alphabet() -> None:
    payload = {"k": "??>>~~"}  # encodes to a segment with '-' and '_' (not '+' and '/')
    encoded = segment(json.dumps(payload).encode())
    assert "-" in encoded or "_" in encoded
    assert decode_claims(f"h.{encoded}.s") == payload


@pytest.mark.parametrize(
    ("claims", "paths", "expected"),
    [
        (ID_CLAIMS, [("email",)], "sam.rivera@example.org"),
        (ID_CLAIMS, [("https://api.openai.com/auth", "chatgpt_plan_type"), ("chatgpt_plan_type",)], "plus"),
        ({"chatgpt_plan_type": " pro "},
         [("https://api.openai.com/auth", "chatgpt_plan_type"), ("chatgpt_plan_type",)], "pro"),
        ({"email": "", "https://api.openai.com/profile": {"email": "b@x.org"}},
         [("email",), ("https://api.openai.com/profile", "email")], "b@x.org"),
        ({"email": 5}, [("email",)], None),
        ({"email": None}, [("email",)], None),
        ({"auth": "not-a-dict"}, [("auth", "plan")], None),
        ({}, [("email",)], None),
        (None, [("email",)], None),
    ],
)  # fmt: skip
def test_claim(claims: dict[str, Any] | None, paths: list[tuple[str, ...]], expected: str | None) -> None:
    assert claim(claims, *paths) == expected
