"""JSON in and out: request bodies checked for type, syntax and rules; responses rendered."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from todo_api.problems import Problem

ModelT = TypeVar("ModelT", bound=BaseModel)

JSON_MEDIA_TYPE = "application/json"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
# No body of this API nests deeper than 3; a client's nesting is walked without recursion and
# refused well before a parser's or the interpreter's recursion limit could be reached.
MAX_JSON_DEPTH = 32


def render_json(content: Any) -> bytes:
    """JSON as every answer has it: times RFC 3339 with Z, dates YYYY-MM-DD."""
    return orjson.dumps(content, option=orjson.OPT_UTC_Z)


class JSONResponse(Response):
    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return render_json(content)


def json_value(content: Any) -> Any:
    """`content` as the JSON value a response would carry, for answers that are not HTTP
    bodies (the agents' tools)."""
    return orjson.loads(render_json(content))


def _media_type(request: Request) -> tuple[str, dict[str, str]]:
    raw = request.headers.get("content-type", "")
    kind, *params = raw.split(";")
    options = {}
    for param in params:
        key, _, value = param.partition("=")
        options[key.strip().lower()] = value.strip().strip('"').lower()
    return kind.strip().lower(), options


def _unsupported(kind: str, accepted: str) -> Problem:
    shown = kind or "none"
    return Problem(415, f"Content type {shown} is not supported; send {accepted}")


def _parse_json(raw: bytes) -> Any:
    # Each level opens with a bracket: a body with few of them (counted in C) nests no deeper.
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and _nesting(raw) > MAX_JSON_DEPTH:
        raise Problem(400, f"The body nests more than {MAX_JSON_DEPTH} levels deep")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    # orjson stops at numbers beyond 64 bits (a 401-digit integer, 1e400); those are valid JSON,
    # just out of any field's range: the field that reads one says so (422), an unknown field
    # is ignored. Integers too long for int() to read at all become infinities, as 1e400 does.
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, parse_int=_integer)
    except (ValueError, TypeError, RecursionError):
        raise Problem(400, "The body is not valid JSON") from None
    # Lone surrogates (from \ud800 escapes): PostgreSQL could not store them.
    if any(_lone_surrogate(text) for _, text in _strings_in(value, ())):
        raise Problem(400, "The body is not valid JSON")
    return value


_MAX_INTEGER_DIGITS = 4000  # under Python's 4300-digit limit on reading an int


def _integer(text: str) -> int | float:
    if len(text) <= _MAX_INTEGER_DIGITS:
        return int(text)
    return float("-inf") if text.startswith("-") else float("inf")


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


_OPENERS = frozenset(b"[{")
_CLOSERS = frozenset(b"]}")


def _nesting(raw: bytes) -> int:
    """The deepest nesting of brackets outside strings, in one pass without recursion. On
    text that is not JSON the figure means nothing, and the parser refuses that text anyway."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in _OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        elif byte in _CLOSERS:
            depth -= 1
    return deepest


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


Loc = tuple[str | int, ...]


def _strings_in(value: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    """Every string in a JSON value, keys included, with where it is, in document order;
    walked with a stack, not recursion."""
    pending: list[tuple[Any, Loc]] = [(value, loc)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, str):
            yield where, item
            continue
        if isinstance(item, dict):
            entries: list[tuple[str | int, Any]] = list(item.items())
        elif isinstance(item, list):
            entries = list(enumerate(item))
        else:
            continue
        for key, child in reversed(entries):  # reversed: the first one pushed is popped last
            pending.append((child, (*where, key)))
        for key, _ in entries:
            if isinstance(key, str):
                yield (*where, key), key


def _find_nul(value: Any, loc: Loc) -> Loc | None:
    """Where the first NUL character is, in keys or strings."""
    try:  # orjson writes a NUL as \u0000: without one, there is nothing to look for
        if b"\\u0000" not in orjson.dumps(value):
            return None
    except TypeError:  # not JSON (an integer past 64 bits): looked for as it stands
        pass
    return next((where for where, text in _strings_in(value, loc) if "\x00" in text), None)


def _refuse_nul(data: Any, where: str) -> None:
    loc = _find_nul(data, (where,))
    if loc is not None:
        error = {"loc": list(loc), "msg": "NUL characters are not allowed", "type": "nul_character"}
        raise Problem(
            422, f"{_loc_text(loc) or where}: NUL characters are not allowed", errors=[error]
        )


async def json_object(request: Request, *, optional: bool = False) -> dict[str, Any] | None:
    """The body as a JSON object: 415 unless the content type is JSON, 400 unless an object.
    With `optional`, an empty body (with any or no content type) is None."""
    raw = await request.body()
    if optional and not raw.strip():
        return None
    kind, options = _media_type(request)
    if kind != JSON_MEDIA_TYPE or options.get("charset", "utf-8") != "utf-8":
        raise _unsupported(kind, JSON_MEDIA_TYPE)
    return _as_object(_parse_json(raw))


def _as_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Problem(400, "The body must be a JSON object")
    return value


async def json_or_form(request: Request) -> dict[str, Any]:
    """A JSON object, or an urlencoded form as a dict of its last values (OAuth2 password flow)."""
    kind, _ = _media_type(request)
    if kind != FORM_MEDIA_TYPE:
        data = await json_object(request)
        assert data is not None
        return data
    raw = await request.body()
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise Problem(400, "The form is not valid UTF-8") from None
    return _as_object(dict(pairs))


def _loc_text(loc: Sequence[str | int]) -> str:
    """The field a loc names, without its "body"/"query" head."""
    return ".".join(str(part) for part in loc[1:])


def validated(
    model: type[ModelT],
    data: Mapping[str, Any] | None,
    where: str = "body",
    context: Mapping[str, Any] | None = None,
) -> ModelT:
    """`data` as `model`, or a 422 problem listing every broken rule (never the input itself).
    `context` reaches the model's validators (rules that depend on the settings)."""
    data = data if data is not None else {}
    # Unknown fields are ignored, NUL and all; the fields the model reads may hold none.
    _refuse_nul({name: data[name] for name in model.model_fields if name in data}, where)
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        details = exc.errors(include_url=False, include_input=False, include_context=False)
        errors = [{"loc": [where, *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in details]
        field = _loc_text([where, *details[0]["loc"]])
        summary = f"{field}: {details[0]['msg']}" if field else details[0]["msg"]
        if len(details) > 1:
            summary += f" (and {len(details) - 1} more)"
        raise Problem(422, f"Invalid request {where}: {summary}", errors=errors) from None
