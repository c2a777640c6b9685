"""Property-based API fuzzing of every service from its OpenAPI (issue 13), with
Schemathesis, the kept fuzzer: each service is run as `make run` runs it and fuzzed with a
valid token of the role that may do most there. Zero 5xx, zero status codes the OpenAPI
does not document, zero responses that break their schema.

``make test`` runs a size CI affords (``ZHIXING_FUZZ_EXAMPLES`` examples per operation,
10 by default, seeded so a failure reproduces); ``make bench`` runs it larger
(``ZHIXING_FUZZ_EXAMPLES=200``).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.conftest import Isolated
from tests.e2e.conftest import Running
from tools.devinfra import ROOT
from zhixing.auth import Role, TokenAuthority
from zhixing.clock import SystemClock

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("ZHIXING_FUZZ_EXAMPLES", "10"))
SEED = int(os.environ.get("ZHIXING_FUZZ_SEED", "2021"))
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"
INTERPRETER_BUG = "SystemError: AST constructor recursion depth mismatch"
"""CPython 3.11's ``ast.parse`` raising this (python/cpython#106905: an error path of the
AST constructor leaves its recursion counter unbalanced) inside Hypothesis, when it parses a
lambda's source, crashed fuzzing runs now and then. The error path is a race between the
fuzzer's worker threads over the source cache (a ``KeyError`` from ``linecache`` precedes
it; twice in one CI run at ``--workers 2``), so the fuzzer runs one worker; should it still
happen, the run is repeated once on another seed (the same seed takes the same path)."""

# Who fuzzes each service: the role that reaches most of its routes, at the court of the
# demo data (the fuzzer's ids are random, so most acts end in 404 or 422: what matters is
# that none ends in a 5xx or an undocumented answer).
FUZZERS = {
    "intake": (Role.CLERK, "苏1283"),
    "asset_control": (Role.OFFICER, "苏1283"),
    "command": (Role.COMMAND, "苏12"),
    "dispute_coordinator": (Role.COORDINATOR, "苏1283"),
    "entrustment": (Role.OFFICER, "苏1283"),
    "audit_notary": (Role.OVERSEER, "苏12"),
    "deadlines": (Role.COMMAND, "苏12"),
    # The handling officer asks for deductions, holds, notices and account changes (finance
    # records receipts and pays, a leader decides): the funds role with the most routes.
    "funds": (Role.OFFICER, "苏1283"),
    # The handling court's officer orders, lists, lifts and deletes; anyone may query.
    "credit": (Role.OFFICER, "苏1283"),
    # A clerk reads a case's notices and what must be delivered another way; the progress
    # page asks no token.
    "notification": (Role.CLERK, "苏1283"),
    # The supervisor answers tasks and receives, registers and answers petitions.
    "supervision": (Role.SUPERVISOR, "苏1283"),
}


async def fuzz(name: str, url: str, token: str, report: Path, seed: int = SEED) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "st"), "run", f"{url}/openapi.json",
        "--checks", CHECKS, "--max-examples", str(EXAMPLES), "--seed", str(seed),
        "--header", f"Authorization: Bearer {token}", "--workers", "1",
        "--phases", "examples,coverage,fuzzing", "--no-color",
        # The event stream never ends by design: it is tested in the dashboard's tests.
        "--exclude-path", "/v1/board/stream",
        "--report", "junit", "--report-junit-path", str(report),
        "--generation-database", "none",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode(errors="replace")


async def test_every_service_survives_fuzzing_from_its_openapi(
    platform: Running, isolated: Isolated, tmp_path: Path
) -> None:
    tokens = TokenAuthority(isolated.auth, SystemClock())
    failed = []
    for name, url in platform.http.items():
        role, court = FUZZERS[name]
        token = tokens.issue(subject=f"fuzz-{name}", court_code=court, role=role)
        code, output = await fuzz(name, url, token, tmp_path / f"{name}.xml")
        if code != 0 and INTERPRETER_BUG in output:
            # The fuzzer itself crashed on a CPython 3.11 bug (Hypothesis parsing a lambda's
            # source), before any answer of ours was judged: run that service once more, on
            # another seed (the same seed takes the same path into the bug).
            code, output = await fuzz(
                name, url, token, tmp_path / f"{name}-again.xml", seed=SEED + 1
            )
        if code != 0:
            failed.append(f"--- {name} (exit {code}) ---\n{output[-6000:]}")
    assert not failed, "\n".join(failed)
