"""The named queries: every `sql/*.sql` file, read once at import, by file stem.

A statement names its parameters (`:user_id`) instead of numbering them, and may paste in a
fragment: `{{caller}}` stands for the text of `sql/_caller.sql`, so a rule several statements
share is written once (a fragment named `..._columns`, such as `{{task_columns}}`, is a list of
columns and is pasted without the parentheses a condition gets). Both are resolved here, once,
into the `$1, $2, ...` text asyncpg prepares; values always travel as parameters, never as SQL
text.

A template (`sql/templates/<name>.sql`) is one statement shape with slots (`[[slot]]`) that a
db module fills from a fixed table of its own (never from a request) and compiles at import:
the list query, rendered once per sort order."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from todo_api.resources import resource_dir

# `:name`, but not the `::` of a cast.
_PARAMETER = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")
_FRAGMENT = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
_SLOT = re.compile(r"\[\[([a-z_][a-z0-9_]*)\]\]")


class QueryError(Exception):
    """A query file or a call to it is wrong: a programming error, found as early as possible."""


@dataclass(frozen=True)
class Query:
    """One statement: its `$n` text and the parameter name of each position."""

    name: str
    sql: str
    parameters: tuple[str, ...]

    def __call__(self, **values: Any) -> tuple[Any, ...]:
        """`(sql, *arguments)` for asyncpg, each argument taken by name. A missing name is a
        QueryError; names the statement does not use are ignored (a caller's identity carries
        more than every statement needs)."""
        missing = [name for name in self.parameters if name not in values]
        if missing:
            raise QueryError(f"query {self.name} needs {', '.join(missing)}")
        return (self.sql, *(values[name] for name in self.parameters))


def _paste_fragments(name: str, text: str, fragments: Mapping[str, str]) -> str:
    def paste(match: re.Match[str]) -> str:
        fragment = match.group(1)
        if fragment not in fragments:
            raise QueryError(f"{name}.sql pastes {fragment}, but sql/_{fragment}.sql is missing")
        # Comments go: a fragment is pasted into the middle of a line. A condition is pasted in
        # parentheses; a list (`..._columns`) as it stands, among other items of its list.
        pasted = " ".join(_strip_comments(fragments[fragment]).split())
        return pasted if fragment.endswith("_columns") else "(" + pasted + ")"

    return _FRAGMENT.sub(paste, text)


def compile_query(name: str, text: str, fragments: Mapping[str, str] | None = None) -> Query:
    """Resolve fragments, then number the named parameters in order of first use."""
    text = _paste_fragments(name, text, fragments or {})
    positions: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        parameter = match.group(1)
        position = positions.setdefault(parameter, len(positions) + 1)
        return f"${position}"

    sql = _PARAMETER.sub(number, _strip_comments(text))
    return Query(name, sql, tuple(positions))


def _strip_comments(text: str) -> str:
    """Whole-line `--` comments removed, so words in them are never taken for parameters."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))


def _read() -> tuple[dict[str, str], dict[str, str]]:
    """The statements and the fragments in sql/, by stem."""
    folder = resource_dir("sql")
    files = {p.stem: p.read_text() for p in sorted(folder.glob("*.sql"))}
    fragments = {stem[1:]: text for stem, text in files.items() if stem.startswith("_")}
    statements = {stem: text for stem, text in files.items() if not stem.startswith("_")}
    return statements, fragments


_STATEMENTS, _FRAGMENTS = _read()
QUERIES = MappingProxyType(
    {stem: compile_query(stem, text, _FRAGMENTS) for stem, text in _STATEMENTS.items()}
)


def query(name: str) -> Query:
    """The statement in sql/<name>.sql. Modules bind theirs at import (`X = query("x")`), so a
    missing file stops the import instead of failing a request."""
    try:
        return QUERIES[name]
    except KeyError:
        raise QueryError(f"there is no sql/{name}.sql") from None


def fill_slots(name: str, text: str, slots: Mapping[str, str]) -> str:
    """The template with every `[[slot]]` replaced; a slot without a value, or a value for no
    slot, is a QueryError."""
    used = set(_SLOT.findall(_strip_comments(text)))
    if used != set(slots):
        missing, unused = sorted(used - set(slots)), sorted(set(slots) - used)
        raise QueryError(f"template {name}: slots missing {missing}, unknown {unused}")
    return _SLOT.sub(lambda match: slots[match.group(1)], _strip_comments(text))


def render(template: str, name: str, slots: Mapping[str, str]) -> Query:
    """sql/templates/<template>.sql with its slots filled, compiled as the query `name`. Slot
    values are SQL text: only ever constants of the calling module, never request data."""
    path = resource_dir("sql") / "templates" / f"{template}.sql"
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise QueryError(f"there is no sql/templates/{template}.sql") from None
    return compile_query(name, fill_slots(template, text, slots), _FRAGMENTS)
