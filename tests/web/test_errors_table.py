"""One error tree, one table, one document: docs/errors.md, the table and the code agree."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections import defaultdict
from pathlib import Path

import pytest

import vcorch
from vcorch import problem_types as error_table
from vcorch.config import ConfigError
from vcorch.errors import DomainError, VcorchError
from vcorch.mcu_adapter.base import (
    BridgeError,
    BridgeProtocolError,
    BridgeUnavailable,
    CapacityExceeded,
    DialFailed,
    NotSupported,
)
from vcorch.problem_types import (
    EDGE_PROBLEMS,
    HTTP_ERROR_SLUG,
    PROBLEM_TYPES,
    REQUEST_REFUSED,
    ProblemType,
    problem_type_of,
    problem_types,
)
from vcorch.signing import SignedTokenError
from vcorch.web.middleware import _HTTP_SLUGS
from vcorch.web.problems import PROBLEM_TYPE_PREFIX, HttpProblem

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "vcorch"
DOC = ROOT / "docs" / "errors.md"
# Modules that run something when imported (the CLI entry, alembic's environment).
NOT_IMPORTED = ("vcorch.__main__", "vcorch.migrations")


def _doc_rows() -> dict[str, list[str]]:
    """The problem rows of docs/errors.md: slug → its cells."""
    rows: dict[str, list[str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        found = re.fullmatch(rf"`{re.escape(PROBLEM_TYPE_PREFIX)}([a-z0-9-]+)`", cells[0])
        if found:
            assert found[1] not in rows, f"{found[1]} is documented twice"
            rows[found[1]] = cells
    return rows


def _all_subclasses(root: type[VcorchError]) -> set[type[VcorchError]]:
    for info in pkgutil.walk_packages(vcorch.__path__, "vcorch."):
        if not info.name.startswith(NOT_IMPORTED):
            importlib.import_module(info.name)
    found: set[type[VcorchError]] = set()
    stack = [root]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                stack.append(sub)
    return found


def test_one_root_holds_every_tree() -> None:
    for root in (DomainError, BridgeError, ConfigError, HttpProblem, SignedTokenError):
        assert issubclass(root, VcorchError), root
    for kind in (BridgeUnavailable, DialFailed, CapacityExceeded, NotSupported):
        assert issubclass(kind, BridgeError) and not issubclass(kind, DomainError)
    assert issubclass(BridgeProtocolError, BridgeUnavailable)


def test_every_problem_type_is_documented_with_its_status_and_title() -> None:
    rows = _doc_rows()
    for problem in problem_types():
        assert problem.slug in rows, f"docs/errors.md lacks {problem.type_uri}"
        _, status, title, _raised_as, meaning, extra = rows[problem.slug]
        assert status == str(problem.status), problem.slug
        assert title == problem.title, problem.slug
        assert meaning, problem.slug
        for name in (*problem.fields, *problem.headers):
            assert name in extra, f"{problem.slug}: {name} is not documented"
    for cls, problem in PROBLEM_TYPES.items():
        assert f"`{cls.__name__}`" in rows[problem.slug][3], f"{cls.__name__} not documented"
    assert rows[HTTP_ERROR_SLUG][1] == "any"


def test_the_document_holds_no_problem_the_service_does_not_answer() -> None:
    known = {problem.slug for problem in problem_types()} | {HTTP_ERROR_SLUG}
    assert set(_doc_rows()) == known


def test_no_two_entries_of_one_type_disagree() -> None:
    by_slug: dict[str, set[tuple[int, str]]] = defaultdict(set)
    for problem in (*PROBLEM_TYPES.values(), *EDGE_PROBLEMS):
        by_slug[problem.slug].add((problem.status, problem.title))
    conflicting = {slug: entries for slug, entries in by_slug.items() if len(entries) > 1}
    assert conflicting == {}


def test_every_error_a_handler_can_raise_has_a_type_of_its_own_kind() -> None:
    for cls in _all_subclasses(DomainError):
        problem = problem_type_of(cls)
        # Nothing falls through to the bare root: each package's errors are in the table.
        assert problem is not PROBLEM_TYPES[DomainError], cls
        if problem.title == REQUEST_REFUSED:
            # The generic rule: 400 with the class's own code, as before the table existed.
            assert PROBLEM_TYPES.get(cls) is problem and problem.slug == cls.code, cls
    for cls in _all_subclasses(BridgeError):
        assert problem_type_of(cls) is not None  # adapters' own kinds answer as their parent
    for cls in (ConfigError, HttpProblem, SignedTokenError):
        # Not refusals of a request: the edge treats them as what they are (config, answer, bug).
        with pytest.raises(LookupError):
            problem_type_of(cls)


def test_the_table_maps_error_classes_only() -> None:
    for cls, problem in PROBLEM_TYPES.items():
        assert issubclass(cls, error_table.MAPPED_ERRORS), cls
        assert isinstance(problem, ProblemType)
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", problem.slug), problem.slug
        assert 400 <= problem.status < 600


_LITERAL_CALL = re.compile(
    r"\b(?:HttpProblem|problem_response)\(\s*(?P<status>\d{3}),\s*\"(?P<slug>[a-z0-9-]+)\""
    r",\s*\"(?P<title>[^\"]+)\""
)
_ANY_CALL = re.compile(r"\b(?:HttpProblem|problem_response)\(")
# The calls that pass on a problem decided elsewhere (the table, aiohttp's status).
_INDIRECT_CALLS = {
    ("web/problems.py", "self.status"),
    ("problem_types.py", "problem.status"),
    ("web/middleware.py", "exc.status"),
}


def test_problems_raised_directly_are_registered() -> None:
    registered = {(p.status, p.slug, p.title) for p in problem_types()}
    literal = 0
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(SRC).as_posix()
        for call in _ANY_CALL.finditer(text):
            before = text[: call.start()].rsplit("\n", 1)[-1]
            if before.endswith(("class ", "def ", "`")):
                continue  # the definitions, and their mentions in docstrings
            found = _LITERAL_CALL.match(text, call.start())
            if found is None:
                first = text[call.end() :].lstrip().split(",", 1)[0].strip()
                assert (where, first) in _INDIRECT_CALLS, f"{where}: {first}"
                continue
            literal += 1
            entry = (int(found["status"]), found["slug"], found["title"])
            assert entry in registered, f"{where}: {entry} is not in problem_types.py"
    assert literal >= 10  # the scan does see the parser's and the middleware's problems
    for status, (slug, title) in _HTTP_SLUGS.items():
        assert (status, slug, title) in registered
