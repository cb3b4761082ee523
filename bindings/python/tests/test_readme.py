"""The README's Python example runs as written (the repository's and the package's)."""

import re

import pytest

from conftest import REPO


def first_python_block(path, after=""):
    text = path.read_text()
    if after:
        text = text[text.index(after) :]
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


@pytest.mark.parametrize("readme,after", [("README.md", "## Python"), ("bindings/python/README.md", "")])
def test_the_example_runs(readme, after, capsys):
    code = first_python_block(REPO / readme, after)
    assert "esmtp.seal(" in code and "esmtp.open(" in code
    exec(compile(code, readme, "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    assert "chacha20-poly1305" in out and "The plan plan.pdf True" in out


def test_both_readmes_show_the_same_example():
    assert first_python_block(REPO / "README.md", "## Python") == first_python_block(
        REPO / "bindings/python/README.md"
    )
