"""What every request model shares: strict bodies, the string and date rules several domains
use, time zones, partial updates, and the problem shapes."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Final

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

# Every IANA time zone this machine knows (the tzdata package guarantees the set); `tz` is one.
TIME_ZONES: Final = tuple(sorted(zoneinfo.available_timezones()))
_ZONE_SET: Final = frozenset(TIME_ZONES)

# What the documents say of strings, exactly as the validators decide: no NUL anywhere.
NO_NUL: Final = r"^[^\x00]*$"
Text = Annotated[str, WithJsonSchema({"type": "string", "pattern": NO_NUL})]

# The white space trimmed from tags: Unicode White_Space, the set migration 0002 trims titles of
# (and 0003's CHECK on tags repeats).
WHITE_SPACE: Final = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


# Control characters (C0, DEL and C1), as a regular expression's character class contents.
CONTROL: Final = r"\x00-\x1f\x7f-\x9f"
_SPACE: Final = "".join(f"\\u{ord(c):04x}" for c in WHITE_SPACE)


def trimmed_pattern(max_chars: int, forbidden: str = "") -> str:
    """A JSON Schema pattern for text that is 1 to `max_chars` characters after trimming white
    space, none of them a control character or in `forbidden`."""
    inner = f"{CONTROL}{forbidden}"
    return (
        f"^[{_SPACE}]*(?:[^{_SPACE}{inner}]"
        f"|[^{_SPACE}{inner}][^{inner}]{{0,{max_chars - 2}}}[^{_SPACE}{inner}])"
        f"[{_SPACE}]*$"
    )


def lower_case(text: str) -> str:
    """Unicode's simple lower-case mapping, one character for one: Python's str.lower() but for
    U+0130 (capital I with a dot), whose full mapping adds a combining dot. So a tag's length is
    the same before and after, and the document can state the rule exactly."""
    return text.replace("\u0130", "i").lower()


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DATE_PATTERN: Final = (
    "^(?:[0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})-[0-9]{2}-[0-9]{2}$"
)


def _calendar_date(value: Any) -> date:
    """`YYYY-MM-DD`, a real calendar day from 0001-01-01 to 9999-12-31, and nothing else."""
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise PydanticCustomError("date", "A calendar date YYYY-MM-DD from 0001-01-01 to 9999-12-31")


CalendarDate = Annotated[
    date,
    BeforeValidator(_calendar_date),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date",
            "pattern": DATE_PATTERN,
            "description": "A calendar date, YYYY-MM-DD, from 0001-01-01 to 9999-12-31.",
        }
    ),
]


def not_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError("null_not_allowed", "Value must not be null")
    return value


class Body(BaseModel):
    """Strict types (no "1" for 1 or 1 for true); unknown and read-only fields are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


def partial_update(
    updatable: tuple[str, ...], not_null: tuple[str, ...]
) -> Callable[[dict[str, Any]], None]:
    """The schema of a partial update: null is refused for the `not_null` fields, and at least
    one of the `updatable` ones is required."""

    def adjust(schema: dict[str, Any]) -> None:
        properties = schema["properties"]
        for name in not_null:
            branches = [b for b in properties[name].get("anyOf", [properties[name]])]
            kept = [b for b in branches if b.get("type") != "null"]
            properties[name] = {
                **{k: v for k, v in properties[name].items() if k not in ("anyOf", "default")},
                **kept[0],
            }
        schema["anyOf"] = [{"required": [name]} for name in updatable]

    return adjust


def whole_number(value: Any) -> Any:
    """JSON Schema's integers include 3.0: take a whole float as the integer it is."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


MAX_ROW_ID: Final = 2**63 - 1
# A row's id in a body (a task's, a list's): a positive integer within 64 bits.
RowId = Annotated[int, BeforeValidator(whole_number), Field(ge=1, le=MAX_ROW_ID)]
ROW_ID_SCHEMA: Final = {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}


def known_zone(value: Any) -> Any:
    if isinstance(value, str) and value not in _ZONE_SET:
        raise PydanticCustomError("time_zone", "Not an IANA time zone name")
    return value


class StatusOut(BaseModel):
    status: str


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ProblemOut(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    request_id: str


class ValidationProblemOut(ProblemOut):
    errors: list[ErrorItem]
