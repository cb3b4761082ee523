"""The shipped stubs match the native module (mypy.stubtest), and the tests type-check."""

import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).parent


def test_stubs_match_the_module():
    done = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "esmtp"], capture_output=True, text=True, cwd=HERE.parent.parent
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_package_is_typed():
    import esmtp

    package = pathlib.Path(esmtp.__file__).parent
    assert (package / "py.typed").exists() and (package / "_native.pyi").exists()
    assert sorted(esmtp.__all__) == sorted(n for n in dir(esmtp._native) if not n.startswith("_") or n == "__version__")


def _vermin(*paths: pathlib.Path) -> "subprocess.CompletedProcess[str]":
    # vermin has no `python -m` entry; its script sits beside the interpreter of the venv.
    vermin = pathlib.Path(sys.executable).parent / "vermin"
    args = [str(vermin), "--no-tips", "--violations", "--eval-annotations", "-t=3.9-", *map(str, paths)]
    return subprocess.run(args, capture_output=True, text=True)


def test_the_package_needs_nothing_newer_than_python_3_9(tmp_path: pathlib.Path) -> None:
    """pyproject.toml promises 3.9; only a newer CPython runs these tests, so the package's source
    (the module and its stubs) is checked for newer syntax and library use instead."""
    import esmtp

    package = pathlib.Path(esmtp.__file__).parent
    done = _vermin(package / "__init__.py", package / "_native.pyi")
    assert done.returncode == 0, done.stdout + done.stderr
    # The check itself can fail: a `match` statement needs 3.10.
    newer = tmp_path / "newer.py"
    newer.write_text("match 1:\n    case 1:\n        pass\n")
    assert _vermin(newer).returncode != 0
