"""Tokens: parties, the tokens file (JSON and TOML, hashes only), and who may post what."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from adapters.cli import main
from adapters.http.auth import (
    Party,
    TokenEntry,
    TokenRegistry,
    add_entry,
    check_sender,
    make_token,
    token_digest,
)
from adapters.http.models import ApiError


@pytest.mark.parametrize(
    ("text", "kind", "code"),
    [
        ("gemeente:0363", "gemeente", "0363"),
        ("aanbieder:12345678", "aanbieder", "12345678"),
        ("operator", "operator", ""),
    ],
)
def test_parties_parse_and_print_back(text: str, kind: str, code: str) -> None:
    party = Party.parse(text)
    assert (party.kind, party.code, str(party)) == (kind, code, text)


@pytest.mark.parametrize(
    "text", ["gemeente:363", "gemeente:03630", "aanbieder:1234567", "operator:x", "admin", ""]
)
def test_anything_else_is_not_a_party(text: str) -> None:
    with pytest.raises(ValueError, match="not a party"):
        Party.parse(text)


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_a_tokens_file_holds_only_hashes_and_identifies_each_token(
    tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"tokens{suffix}"
    tokens = {}
    for text in ["gemeente:0363", "aanbieder:12345678", "operator"]:
        token, entry = make_token(Party.parse(text), label="test")
        add_entry(path, entry)
        tokens[text] = token
    content = path.read_text()
    registry = TokenRegistry.load(path)

    assert len(registry) == 3
    for text, token in tokens.items():
        assert token not in content
        assert hashlib.sha256(token.encode()).hexdigest() in content
        assert registry.identify(token) == Party.parse(text)
    assert registry.identify(tokens["operator"] + "x") is None
    assert registry.identify("") is None


def test_two_tokens_are_never_the_same(tmp_path: Path) -> None:
    party = Party.parse("operator")
    assert len({make_token(party)[0] for _ in range(50)}) == 50


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"tokens": [{"party": "gemeente:0363", "sha256": "abc"}]}', "64 hex"),
        ('{"tokens": [{"party": "nobody", "sha256": "' + "a" * 64 + '"}]}', "not a party"),
        ('{"tokens": {}}', "list of tokens"),
        ("not json", "cannot read"),
    ],
)
def test_a_bad_tokens_file_is_refused_naming_the_problem(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=problem):
        TokenRegistry.load(path)


def test_authenticate_needs_a_bearer_token_it_knows() -> None:
    token, _ = make_token(Party.parse("gemeente:0363"))
    registry = TokenRegistry([TokenEntry(Party.parse("gemeente:0363"), token_digest(token))])
    assert registry.authenticate(f"Bearer {token}") == Party.parse("gemeente:0363")
    assert registry.authenticate(f"bearer   {token}  ") == Party.parse("gemeente:0363")
    for header in [None, "", "Basic x", "Bearer", f"Token {token}", "Bearer nope"]:
        with pytest.raises(ApiError) as refused:
            registry.authenticate(header)
        assert refused.value.status == 401 and refused.value.reason


@pytest.mark.parametrize(
    ("party", "message_type", "sender", "allowed"),
    [
        ("gemeente:0363", "WMO301", "0363", True),
        ("gemeente:0363", "WMO301", "0599", False),
        ("gemeente:0363", "WMO305", "0363", False),
        ("aanbieder:12345678", "WMO305", "12345678", True),
        ("aanbieder:12345678", "WMO307", "12345678", True),
        ("aanbieder:12345678", "WMO307", "87654321", False),
        ("aanbieder:12345678", "WMO301", "12345678", False),
        # Unreadable type or sender: it goes on, to be rejected and kept on the dead-letter stream.
        ("aanbieder:12345678", None, None, True),
        ("aanbieder:12345678", "WMO306", "12345678", True),
        ("aanbieder:12345678", "WMO306", "0363", False),
    ],
)
def test_who_may_post_what(
    party: str, message_type: str | None, sender: str | None, allowed: bool
) -> None:
    if allowed:
        check_sender(Party.parse(party), message_type, sender)
    else:
        with pytest.raises(ApiError) as refused:
            check_sender(Party.parse(party), message_type, sender)
        assert refused.value.status == 403


def test_make_token_prints_it_once_and_adds_its_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tokens.json"
    assert main(["serve", "--make-token", "gemeente:0363", "--tokens", str(path)]) == 0
    out = capsys.readouterr().out
    token = next(line for line in out.splitlines() if line.startswith("iwmo_"))
    stored = json.loads(path.read_text())["tokens"]
    assert stored == [{"party": "gemeente:0363", "sha256": token_digest(token).hex()}]
    assert TokenRegistry.load(path).identify(token) == Party.parse("gemeente:0363")
    assert main(["serve", "--make-token", "mayor:1", "--tokens", str(path)]) == 2
