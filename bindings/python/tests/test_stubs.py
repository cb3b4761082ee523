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
