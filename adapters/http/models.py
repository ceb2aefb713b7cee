"""The API's JSON shapes (for the OpenAPI document) and the one exception every refusal uses."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from hub.events import RejectionError


class ApiError(Exception):
    """A refusal with its HTTP status, a short error code and a reason for people."""

    def __init__(
        self, status: int, error: str, reason: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.error = error
        self.reason = reason
        self.headers = headers or {}

    def body(self) -> dict[str, str]:
        return {"error": self.error, "reason": self.reason}


class Problem(BaseModel):
    """Every 4xx/5xx answer: what went wrong (a code) and why (a sentence)."""

    error: str = Field(examples=["forbidden"])
    reason: str = Field(examples=["aanbieder:12345678 may only read its own arrangements"])


class ErrorItem(BaseModel):
    """One validation error: the rule, its retour code, where (path, line) and why."""

    rule: str = Field(examples=["TR019"])
    retour_code: str = Field(examples=["0001"])
    path: str = Field(examples=["/Bericht/Client/ToegewezenProducten/ToegewezenProduct[1]"])
    line: int | None = None
    message: str

    @classmethod
    def of(cls, error: RejectionError) -> ErrorItem:
        return cls(
            rule=error.rule,
            retour_code=error.retour_code,
            path=error.path,
            line=error.line,
            message=error.message,
        )


class Accepted(BaseModel):
    """202: the message is durably stored (now, or earlier: a duplicate)."""

    message_id: str
    status: Literal["accepted", "duplicate"]
    message_type: str | None = None
    retour_url: str
    detail: str | None = None


class Rejected(BaseModel):
    """422 (or 400 for what is not XML): every error; the submission is on the dead-letter
    stream under `message_id`."""

    message_id: str | None
    status: Literal["rejected"] = "rejected"
    message_type: str | None = None
    errors: list[ErrorItem]
    retour_url: str | None = None


class MessageStatus(BaseModel):
    """What the hub knows about one submitted message."""

    message_id: str
    status: Literal["accepted", "rejected"]
    message_type: str | None
    sender: str | None
    receiver: str | None
    received_at: str | None
    errors: list[ErrorItem] = []
    retour_url: str | None = None


class Page(BaseModel):
    """One page of a list; pass `next_cursor` as `cursor` for the next (null: last page)."""

    items: list[dict[str, Any]]
    next_cursor: str | None = None
    as_of: str | None = None


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """Whether this process can take messages and answer reads, and why not."""

    ready: bool
    store: dict[str, Any]
    projector: dict[str, Any]
    message_index: dict[str, Any]
