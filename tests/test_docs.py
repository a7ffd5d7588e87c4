"""Every ```python block in docs/*.md and README.md runs: the blocks of one file in order, in
one namespace, with the working directory a fresh temporary folder. A block opts out only with
an HTML comment <!-- no-run --> on the line (blank lines aside) right before its fence."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
NO_RUN = "<!-- no-run -->"
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def python_blocks(text: str):
    """(first line number, source) of each ```python block not marked <!-- no-run -->."""
    blocks = []
    for m in FENCE.finditer(text):
        before = text[:m.start()].rstrip().splitlines()
        if before and before[-1].strip() == NO_RUN:
            continue
        blocks.append((text.count("\n", 0, m.start()) + 2, m.group(1)))
    return blocks


def test_the_block_extractor():
    text = "x\n```python\na = 1\n```\n\n<!-- no-run -->\n\n```python\nb = 2\n```\n```bash\nc\n```\n"
    assert python_blocks(text) == [(3, "a = 1\n")]


@pytest.mark.parametrize("path", [p for p in FILES if p.exists()], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_python_blocks_run(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    for line, source in python_blocks(path.read_text(encoding="utf-8")):
        code = compile(source, f"{path.relative_to(ROOT)}:{line}", "exec")
        exec(code, namespace)  # the doc examples are the test
