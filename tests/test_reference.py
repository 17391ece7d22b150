"""The reference people read (docs/api.md) and the OpenAPI document the service serves say the
same: every route of /openapi.json has its section in the reference, listing exactly the
route's statuses, and every route the reference (or another document of the repository) names
as `METHOD /path` exists. The conventions read here are stated at the head of docs/api.md."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from todo_api.testing import ROOT

pytestmark = pytest.mark.anyio

REFERENCE = ROOT / "docs" / "api.md"
# The documents whose `METHOD /path` spans name todo-api's routes (docs/better-auth.md names
# Better Auth's own routes as well).
DOCUMENTS = [REFERENCE, ROOT / "docs" / "frontend.md", ROOT / "README.md"]
METHODS = "GET|HEAD|POST|PUT|PATCH|DELETE"
ROUTE = re.compile(rf"`({METHODS}) (/[^`\s]*)`")
HEADING = re.compile(r"^(#{1,6}) (.*)$", re.M)


@pytest.fixture
async def documented(client: httpx.AsyncClient) -> dict[tuple[str, str], set[str]]:
    """(METHOD, path) -> its statuses, from the service's own /openapi.json."""
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return {
        (method.upper(), path): set(operation["responses"])
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }


def route_sections(text: str) -> dict[tuple[str, str], str]:
    """(METHOD, path) -> the text of its section: a `###` heading that is one route, to the
    next heading of level 1 to 3."""
    sections: dict[tuple[str, str], str] = {}
    headings = list(HEADING.finditer(text))
    for i, heading in enumerate(headings):
        level, title = len(heading.group(1)), heading.group(2).strip()
        route = re.fullmatch(rf"`({METHODS}) (/\S*)`", title)
        if level != 3 or route is None:
            continue
        end = next((h.start() for h in headings[i + 1 :] if len(h.group(1)) <= 3), len(text))
        key = (route.group(1), route.group(2))
        assert key not in sections, f"two sections for {key}"
        sections[key] = text[heading.end() : end]
    return sections


def statuses_of(section: str) -> set[str]:
    lines = [line for line in section.splitlines() if line.startswith("Statuses:")]
    assert len(lines) == 1, f"{len(lines)} 'Statuses:' lines"
    return set(re.findall(r"\b[1-5]\d\d\b", lines[0]))


async def test_every_route_of_the_openapi_document_has_its_section_in_the_reference(
    documented: dict[tuple[str, str], set[str]],
) -> None:
    sections = route_sections(REFERENCE.read_text())
    missing = sorted(set(documented) - set(sections))
    assert not missing, f"routes of /openapi.json without a section in docs/api.md: {missing}"


async def test_every_route_section_lists_exactly_the_statuses_of_the_document(
    documented: dict[tuple[str, str], set[str]],
) -> None:
    for route, section in route_sections(REFERENCE.read_text()).items():
        if route in documented:
            assert statuses_of(section) == documented[route], route


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
async def test_every_route_a_document_names_exists(
    documented: dict[tuple[str, str], set[str]], document: Any
) -> None:
    named = {(m.group(1), m.group(2)) for m in ROUTE.finditer(document.read_text())}
    unknown = sorted(
        (method, path)
        for method, path in named
        if (method, path) not in documented
        and not (method == "HEAD" and ("GET", path) in documented)
    )
    assert not unknown, f"{document.name} names routes /openapi.json does not have: {unknown}"


# A citation of the reference in code or tests: docs/api.md, then the heading of the section to
# read in double quotes (a comment or docstring may break the line inside it).
CITATION = re.compile(r'docs/api\.md,\s+(?:#\s*)?"([^"]+)"')


def one_line(title: str) -> str:
    return re.sub(r"\s*\n\s*(?:#\s*)?", " ", title)


def test_every_citation_of_the_reference_names_one_of_its_headings() -> None:
    headings = {h.group(2).strip() for h in HEADING.finditer(REFERENCE.read_text())}
    cited = {
        (path.relative_to(ROOT).as_posix(), title)
        for folder in ("todo_api", "tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
        for title in map(one_line, CITATION.findall(path.read_text()))
    }
    assert cited, "no citation found: the pattern no longer matches how code cites"
    unknown = sorted((where, title) for where, title in cited if title not in headings)
    assert not unknown, f"citations of docs/api.md naming no heading of it: {unknown}"
