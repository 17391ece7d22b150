"""The named queries: every `sql/*.sql` file, read once at import, by file stem."""

from __future__ import annotations

from types import MappingProxyType

from todo_api.resources import resource_dir


def _load() -> MappingProxyType[str, str]:
    folder = resource_dir("sql")
    return MappingProxyType({p.stem: p.read_text() for p in sorted(folder.glob("*.sql"))})


QUERIES = _load()


def query(name: str) -> str:
    """The text of sql/<name>.sql; a missing name is a programming error found at import."""
    return QUERIES[name]
