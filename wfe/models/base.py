"""The wire contract's foundations: the base models, errors, pages, health, users, and the
named enums the other parts share."""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypeAliasType

from wfe.wire import OneOf, Timestamp, Uuid

T = TypeVar("T")
STORED_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"


class Model(BaseModel):
    # strict: a request says what it means; 0 is not false and 3 is not "3" (the document
    # promises those types, and schemathesis holds the daemon to it).
    model_config = ConfigDict(extra="forbid", strict=True)


class Response(BaseModel):
    model_config = ConfigDict(extra="ignore")


# ---- errors and lists -------------------------------------------------------------------

class FieldError(Response):
    """One invalid field, query parameter or header (the details of a 422)."""

    path: str = Field(description="where: steps[0].run, limit, Idempotency-Key, (body)")
    message: str


class ErrorDetail(Response):
    code: str
    message: str
    details: Annotated[list[FieldError] | dict[str, Any] | None, OneOf()] = Field(
        None, description="a 422's list of invalid fields; else facts about the error"
                          " (a 409's state, a 416's size, a 429's retry_after), or null")


class ErrorBody(Response):
    error: ErrorDetail


class Page(Response, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


# ---- health and users -------------------------------------------------------------------

class Health(Response):
    status: Literal["ok"] = "ok"
    version: str
    api_version: str
    live_runners: int
    pid: int
    started_at: Timestamp
    stopping: bool = False  # draining: no new step starts, running ones may finish


# Enums are named (TypeAliasType): each is a component of the document, an enum class of a
# generated client, instead of an inline list repeated at every use.
Role = TypeAliasType("Role", Literal["admin", "author", "operator"])
TemplateStatus = TypeAliasType("TemplateStatus", Literal["draft", "published", "archived"])
TriggerType = TypeAliasType("TriggerType", Literal["api", "cli"])
ItemStatus = TypeAliasType("ItemStatus",
                           Literal["pending", "running", "succeeded", "failed", "cancelled"])
ApprovalStatus = TypeAliasType(
    "ApprovalStatus", Literal["pending", "approved", "rejected", "expired", "cancelled"])
HandlerRole = TypeAliasType("HandlerRole", Literal["undo", "on_failure", "finally"])
HandlerStatus = TypeAliasType(
    "HandlerStatus", Literal["pending", "running", "succeeded", "failed", "skipped", "cancelled"])
HandlersPhase = TypeAliasType("HandlersPhase", Literal["waiting", "pending", "running", "done"])
Overlap = TypeAliasType("Overlap", Literal["skip", "allow", "buffer_one", "cancel_previous"])
Catchup = TypeAliasType("Catchup", Literal["none", "latest", "all"])
DeliveryStatus = TypeAliasType("DeliveryStatus", Literal["pending", "delivered", "failed"])
Scope = TypeAliasType("Scope", Literal["user", "global"])


class User(Response):
    id: Uuid
    name: str
    role: Role
    is_admin: bool = Field(description="role == admin (kept for older clients)")
    created_at: Timestamp


class CreateUser(Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$")
    role: Role | None = Field(None, description="default: operator (runs the catalog, "
                                                    "cannot write templates)")
    is_admin: bool = Field(False, description="the same as role admin (older clients)")


class UpdateUser(Model):
    role: Role


class UserWithToken(Response):
    user: User
    token: str
