"""The arrows between packages: the import-linter contracts hold, a broken one is caught, and
code outside a package imports only its face."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
# Wiring and schema modules see every package's insides on purpose.
MAY_REACH_INSIDE = {"vcorch.metadata"}


def _packages(graph: grimp.ImportGraph) -> set[str]:
    return {m for m in graph.modules if m.count(".") == 1 and graph.find_children(m)}


def _lint_imports(cwd: Path, src: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_contract_is_kept() -> None:
    result = _lint_imports(ROOT, ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # rooms reaching for a meeting package
        ("rooms/views.py", "import vcorch.booking.models", "Rooms never import"),
        # a domain module speaking HTTP outside its routes
        ("booking/listing.py", "import aiohttp", "aiohttp only in its routes"),
        # an adapter reaching past the bridge contract
        ("mcu_adapter/janus/naming.py", "import vcorch.db", "imports only the bridge contract"),
        # the domain calling the scheduler
        ("orchestration/policy.py", "import vcorch.scheduler.planning", "never the reverse"),
        # a lower layer importing a higher one
        ("mail/outbox.py", "import vcorch.booking.views", "Layers"),
    ],
)
def test_a_broken_arrow_is_caught(tmp_path: Path, module: str, line: str, contract: str) -> None:
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "src" / "vcorch" / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    result = _lint_imports(tmp_path, tmp_path / "src")
    assert result.returncode != 0
    # The section after the summary names each broken contract with the imports that broke it.
    _, _, broken = result.stdout.partition("Broken contracts")
    assert contract in broken, result.stdout


def test_code_outside_a_package_imports_only_its_face() -> None:
    graph = grimp.build_graph("vcorch")
    packages = _packages(graph) - {"vcorch.migrations"}
    reached_inside = []
    for package in sorted(packages):
        # A module the face itself names (``from vcorch.access import audit``) is the face.
        named = {f"{package}.{name}" for name in importlib.import_module(package).__all__}
        inside = graph.find_descendants(package) - named
        for module in sorted(inside):
            for importer in graph.find_modules_that_directly_import(module):
                if importer == package or importer.startswith(package + "."):
                    continue
                if importer in MAY_REACH_INSIDE or importer.startswith("vcorch.migrations."):
                    continue
                reached_inside.append(f"{importer} -> {module}")
    assert reached_inside == []
