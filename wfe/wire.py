"""Annotations that say in the OpenAPI document what a plain wire value holds.

None of them changes what is validated or sent: a timestamp stays the string the store
wrote, a stored template part stays the JSON it was stored as. They exist so that a typed
client generated from the document gets datetimes, UUIDs, named enums and the template's
own step schema instead of bare strings and untyped dicts.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import GetJsonSchemaHandler, TypeAdapter, WithJsonSchema
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

# RFC 3339 UTC, as the store writes it (2024-05-01T12:00:00.000000Z).
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
# Ids the daemon makes (uuid4, snapshots uuid7). Responses only: a request's id is judged
# by its handler (an unknown or malformed one is the same 404), not by the schema.
Uuid = Annotated[str, WithJsonSchema({"type": "string", "format": "uuid"})]


class OneOf:
    """A union of disjoint JSON types (string or list, list or object) as ``oneOf``:
    exactly one branch matches, which generators turn into a tagged union. pydantic writes
    ``anyOf`` for every union."""

    def __get_pydantic_json_schema__(self, schema_: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(schema_)
        if "anyOf" in schema:
            schema["oneOf"] = schema.pop("anyOf")
        return schema


class DocumentedAs:
    """A value served as stored (no second validation, no re-serialisation: the wire is the
    JSON that was stored) but documented with the schema of the type it was validated as
    when it came in: a template's steps are served as the StepSpec they passed."""

    def __init__(self, tp: Any) -> None:
        # A chain of one step: the handler then generates it as a nested schema, so a model
        # becomes a $ref to its component (not a copy inline) and annotations apply.
        self.schema = core_schema.chain_schema([TypeAdapter(tp).core_schema])

    def __get_pydantic_json_schema__(self, _: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return handler(self.schema)
