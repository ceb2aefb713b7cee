"""Bearer tokens per party, kept in a tokens file as SHA-256 hashes, and who may do what.

A tokens file (JSON, or TOML when it ends in .toml) lists one entry per token::

    {"tokens": [{"party": "gemeente:0363", "sha256": "<64 hex>", "label": "back-office"}]}

    [[tokens]]
    party = "aanbieder:12345678"
    sha256 = "<64 hex>"

A party is `gemeente:CODE` (4 digits), `aanbieder:AGB` (8 digits) or `operator`. Only hashes
are stored: a token is 32 random bytes, so one SHA-256 suffices (no dictionary to guess from),
and every entry is compared in constant time, all of them every time, so neither timing nor
order tells which token was close. `iwmo-hub serve --make-token PARTY` makes one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from adapters.http.models import ApiError
from hub.messagetypes import MessageType

PartyKind = Literal["gemeente", "aanbieder", "operator"]
GEMEENTE: Final = "gemeente"
AANBIEDER: Final = "aanbieder"
OPERATOR: Final = "operator"
TOKEN_PREFIX: Final = "iwmo_"
_CODES: Final = {GEMEENTE: re.compile(r"\d{4}"), AANBIEDER: re.compile(r"\d{8}")}
_HEX64: Final = re.compile(r"[0-9a-f]{64}")
#: Only for the OpenAPI document (the Authorize button in /docs); `authenticated` checks.
_BEARER: Final = HTTPBearer(
    auto_error=False, description="a token from `iwmo-hub serve --make-token`"
)
#: What each kind of party sends (a gemeente the toewijzing, an aanbieder start and stop).
SENDS: Final[dict[str, frozenset[MessageType]]] = {
    GEMEENTE: frozenset({MessageType.WMO301}),
    AANBIEDER: frozenset({MessageType.WMO305, MessageType.WMO307}),
}


@dataclass(frozen=True, slots=True)
class Party:
    """Who a token belongs to: a gemeente, an aanbieder, or the operator."""

    kind: PartyKind
    code: str = ""

    @classmethod
    def parse(cls, text: str) -> Party:
        """'gemeente:0363', 'aanbieder:12345678' or 'operator'; ValueError otherwise."""
        kind, _, code = text.strip().partition(":")
        if kind == OPERATOR and not code:
            return cls(OPERATOR)
        if kind == GEMEENTE and _CODES[GEMEENTE].fullmatch(code):
            return cls(GEMEENTE, code)
        if kind == AANBIEDER and _CODES[AANBIEDER].fullmatch(code):
            return cls(AANBIEDER, code)
        raise ValueError(
            f"not a party: {text!r}; expected gemeente:CODE (4 digits), aanbieder:AGB "
            "(8 digits) or operator"
        )

    def __str__(self) -> str:
        return f"{self.kind}:{self.code}" if self.code else self.kind


@dataclass(frozen=True, slots=True)
class TokenEntry:
    party: Party
    digest: bytes
    label: str = ""


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class TokenRegistry:
    """The configured tokens; `identify` finds the party a presented token belongs to."""

    def __init__(self, entries: Iterable[TokenEntry] = ()) -> None:
        self.entries = tuple(entries)

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def load(cls, path: str | Path) -> TokenRegistry:
        """Read a tokens file; ValueError names the file and the entry that is wrong."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
            data: Any = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (OSError, ValueError) as e:
            raise ValueError(f"cannot read the tokens file {path}: {e}") from e
        raw = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(raw, list):
            raise ValueError(f"{path}: expected a list of tokens under 'tokens'")
        entries = []
        for n, item in enumerate(raw, 1):
            if not isinstance(item, dict):
                raise ValueError(f"{path}: token {n} is not a table/object")
            digest = str(item.get("sha256", "")).lower()
            if not _HEX64.fullmatch(digest):
                raise ValueError(f"{path}: token {n} has no sha256 of 64 hex digits")
            try:
                party = Party.parse(str(item.get("party", "")))
            except ValueError as e:
                raise ValueError(f"{path}: token {n}: {e}") from e
            entries.append(TokenEntry(party, bytes.fromhex(digest), str(item.get("label", ""))))
        return cls(entries)

    def identify(self, token: str) -> Party | None:
        """The party of `token`, comparing against every entry in constant time."""
        digest = token_digest(token)
        found: Party | None = None
        for entry in self.entries:
            if hmac.compare_digest(entry.digest, digest) and found is None:
                found = entry.party
        return found

    def authenticate(self, authorization: str | None) -> Party:
        """The party of an `Authorization: Bearer TOKEN` header; 401 otherwise."""
        if not authorization:
            raise unauthorized("no Authorization header; send 'Authorization: Bearer TOKEN'")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("the Authorization header must be 'Bearer TOKEN'")
        party = self.identify(token.strip())
        if party is None:
            raise unauthorized("the bearer token is not known to this hub")
        return party


def make_token(party: Party, label: str = "") -> tuple[str, dict[str, str]]:
    """A fresh token and the entry for the tokens file (which holds only its hash)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    entry = {"party": str(party), "sha256": token_digest(token).hex()}
    if label:
        entry["label"] = label
    return token, entry


def add_entry(path: str | Path, entry: dict[str, str]) -> None:
    """Append an entry to a tokens file (created when missing; TOML if it ends in .toml)."""
    path = Path(path)
    if path.suffix == ".toml":
        block = "".join(f"{k} = {json.dumps(v)}\n" for k, v in entry.items())
        existing = path.read_text(encoding="utf-8") if path.exists() else ""
        separator = "\n" if existing and not existing.endswith("\n\n") else ""
        path.write_text(f"{existing}{separator}[[tokens]]\n{block}", encoding="utf-8")
        return
    data: dict[str, Any] = {"tokens": []}
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
    data.setdefault("tokens", []).append(entry)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


# --- refusals and permissions ----------------------------------------------------------------


def unauthorized(reason: str) -> ApiError:
    return ApiError(401, "unauthorized", reason, {"WWW-Authenticate": 'Bearer realm="iwmo-hub"'})


def forbidden(reason: str) -> ApiError:
    return ApiError(403, "forbidden", reason)


def require_operator(party: Party, what: str) -> None:
    if party.kind != OPERATOR:
        raise forbidden(f"{what} is for the operator; {party} may not read it")


def require_party(party: Party, kind: PartyKind, code: str, what: str) -> None:
    """Only the gemeente (or aanbieder) `code` itself may read its `what`."""
    if party.kind != kind or party.code != code:
        raise forbidden(f"{party} may not read the {what} of {kind}:{code}; only its own")


def check_may_post(party: Party) -> None:
    """The operator watches; only gemeenten and aanbieders send messages."""
    if party.kind == OPERATOR:
        raise forbidden("the operator may not post messages; use a gemeente or aanbieder token")


def check_sender(party: Party, message_type: str | None, sender: str | None) -> None:
    """A party posts only its own messages of the types its kind sends (Afzender = its code).

    A message whose type or Afzender cannot be read goes on to be rejected (and kept on the
    dead-letter stream): there is nothing in it that claims to come from someone else.
    """
    kind = MessageType.from_name(message_type) if message_type else None
    if kind is not None and not kind.is_retour and kind not in SENDS[party.kind]:
        sender_kind = GEMEENTE if kind in SENDS[GEMEENTE] else AANBIEDER
        raise forbidden(f"a {kind.name} is sent by a {sender_kind}; {party} may not post it")
    if sender is not None and sender != party.code:
        raise forbidden(f"the message's Afzender is {sender}; {party} may only post as itself")


def check_may_read_message(party: Party, sender: str | None, submitted_by: str | None) -> None:
    """The sender of a message (or whoever submitted it here) and the operator may see it."""
    if party.kind == OPERATOR or party.code == sender or str(party) == submitted_by:
        return
    raise forbidden(f"{party} did not send this message; only its sender may read it")


def authenticate(request: Request) -> Party:
    """The caller's party from the request's Authorization header, or a 401."""
    registry: TokenRegistry = request.app.state.tokens
    party = registry.authenticate(request.headers.get("authorization"))
    request.state.party = str(party)  # for the access log
    return party


async def authenticated(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)]
) -> Party:
    """The FastAPI dependency: the caller's party, or a 401 with the reason (async: a hash
    and a few compares do not need a worker thread)."""
    return authenticate(request)


#: A route parameter that is the authenticated caller: `party: Caller`.
Caller = Annotated[Party, Depends(authenticated)]
