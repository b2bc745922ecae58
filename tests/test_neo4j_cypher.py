"""Every Cypher statement we ship passes Neo4j's own front end (@neo4j-cypher/language-support).

No Neo4j server is needed: `tests/cypher_lint/lint.mjs` runs its parser and semantic checks in Node.
CI installs it with `npm ci --prefix tests/cypher_lint`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kgprune.kg.cypher.neo4j import ALL_STATEMENTS

ROOT = Path(__file__).resolve().parents[1]
LINT_DIR = ROOT / "tests" / "cypher_lint"
SAVED_QUERIES = ROOT / "docker" / "queries.cypher"
BROKEN = "MATCH (c:`Concept` {uri: $uri)-[r]- RETURN c"


def _lint(statements: dict[str, str]) -> dict[str, list[dict[str, object]]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if not (LINT_DIR / "node_modules").is_dir():
        pytest.skip("run `npm ci --prefix tests/cypher_lint` to install the Cypher linter")
    done = subprocess.run(
        [node, str(LINT_DIR / "lint.mjs")],
        input=json.dumps(statements),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout)


def _saved_queries() -> dict[str, str]:
    """The queries of docker/queries.cypher, each named by the `// name:` line before it."""
    text = SAVED_QUERIES.read_text(encoding="utf-8")
    parts = re.split(r"^// name: (.+)$", text, flags=re.MULTILINE)
    names, bodies = parts[1::2], parts[2::2]
    return {f"queries.cypher: {n.strip()}": b.strip() for n, b in zip(names, bodies, strict=True)}


def test_saved_queries_file_names_its_queries() -> None:
    assert len(_saved_queries()) >= 5


def test_every_statement_parses() -> None:
    statements = {**ALL_STATEMENTS, **_saved_queries(), "deliberately broken": BROKEN}
    report = _lint(statements)
    assert set(report) == set(statements)
    assert report.pop("deliberately broken"), "the linter missed a syntax error: it is not working"
    errors = {name: [d["message"] for d in found] for name, found in report.items() if found}
    assert not errors, "Cypher errors:\n" + "\n".join(
        f"{name}: {message}" for name, messages in errors.items() for message in messages
    )
