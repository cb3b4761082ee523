"""Shared fixtures. Tests that need the mail lab or the `esmtp` command skip without them, unless
ESMTP_PY_REQUIRE_ALL=1 (as ./scripts/test sets it): then their absence is a failure."""

import os
import pathlib
import shutil

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
TESTDATA = REPO / "esmtp-core" / "testdata"


def _missing(what: str) -> None:
    if os.environ.get("ESMTP_PY_REQUIRE_ALL") == "1":
        pytest.fail(f"{what} is required (ESMTP_PY_REQUIRE_ALL=1)")
    pytest.skip(f"{what} is not available")


@pytest.fixture(scope="session")
def lab() -> dict:
    """The mail lab's settings (`eval "$(./scripts/mail-lab env DIR)"`)."""
    if "ESMTP_LAB_HOST" not in os.environ:
        _missing("the mail lab (ESMTP_LAB_* variables)")
    return dict(os.environ)


@pytest.fixture(scope="session")
def esmtp_cli() -> str:
    """The `esmtp` command: $ESMTP_CLI, else the workspace's build, else PATH."""
    candidates = [os.environ.get("ESMTP_CLI", "")]
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    candidates += [str(target / "release" / "esmtp"), str(target / "debug" / "esmtp")]
    candidates.append(shutil.which("esmtp") or "")
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return c
    _missing("the esmtp command (cargo build -p esmtp-cli)")
    raise AssertionError("unreachable")
