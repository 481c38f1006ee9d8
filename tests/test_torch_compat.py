"""docs/torch_compat.md cannot drift from the code.

Each table row of that page names torch APIs (code spans starting with ``torch.``,
``torchvision.`` or ``Tensor.``), a status, the test that covers it, the programs that use it and
notes. A span's leading dotted name is what is resolved (``torch.matmul(out=)`` → ``torch.matmul``)
on minitorch: ``torch.X`` → ``minitorch.X``, ``torchvision.X`` → ``minitorch.vision.X``,
``Tensor.m`` → ``minitorch.Tensor.m``; a missing attribute of a package is looked for as a
submodule (``torch.onnx`` → ``import minitorch.onnx``).

* ✓ — every API resolves, and the row names a test;
* partial — every API resolves (what differs is in the notes);
* ✗ — no API resolves: once one does, someone implemented it, so the row must be flipped;
* out of scope — listed for completeness, not checked.

Every ``tests/<file>.py::<test>`` a row mentions (test column or notes) must exist.
"""
import importlib
import os
import re
import types

import pytest

import minitorch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PAGE = os.path.join(ROOT, "docs", "torch_compat.md")
STATUSES = ("✓", "partial", "✗", "out of scope")
ROOTS = {"torch": minitorch, "torchvision": minitorch.vision, "Tensor": minitorch.Tensor}
API_SPAN = re.compile(r"`((?:torch|torchvision|Tensor)\.[^`]*)`")
TEST_REF = re.compile(r"tests/([\w/]+\.py)::(test_\w+)")


def table_rows():
    """(line number, cells) of every table row whose first cell holds an API code span."""
    rows = []
    with open(PAGE, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.startswith("| `"):
                rows.append((number, [c.strip() for c in line.strip().strip("|").split(" | ")]))
    return rows


ROWS = table_rows()


def resolves(api: str) -> bool:
    """Whether the leading dotted name of ``api`` exists on minitorch."""
    name = re.match(r"[A-Za-z_][\w.]*", api).group(0).rstrip(".")
    root, *parts = name.split(".")
    obj = ROOTS[root]
    for part in parts:
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        if isinstance(obj, types.ModuleType):
            try:
                obj = importlib.import_module(f"{obj.__name__}.{part}")
                continue
            except ModuleNotFoundError as e:
                if e.name != f"{obj.__name__}.{part}":
                    raise  # the submodule exists but is broken: not a question of coverage
        return False
    return True


def test_the_page_has_its_tables():
    assert len(ROWS) >= 100
    statuses = {cells[1] for _, cells in ROWS}
    assert statuses <= set(STATUSES), f"unknown status: {statuses - set(STATUSES)}"
    # issue 11's bar: every API the tutorials and examples use that is in scope works
    open_rows = [f"line {n}: {cells[0]}" for n, cells in ROWS
                 if cells[1] not in ("✓", "out of scope")]
    assert not open_rows, "in-scope rows not yet ✓:\n" + "\n".join(open_rows)


@pytest.mark.parametrize("line,cells", ROWS, ids=[f"line{n}" for n, _ in ROWS])
def test_row_matches_the_code(line, cells):
    where = f"docs/torch_compat.md:{line}"
    assert len(cells) == 5, f"{where}: expected 5 cells (API, status, test, used by, notes)"
    api_cell, status, test_cell = cells[0], cells[1], cells[2]
    apis = API_SPAN.findall(api_cell)
    assert apis, f"{where}: no torch API in {api_cell!r}"
    for path, test in TEST_REF.findall(" | ".join(cells)):
        file = os.path.join(ROOT, "tests", path)
        assert os.path.isfile(file), f"{where}: tests/{path} does not exist"
        with open(file, encoding="utf-8") as f:
            defined = set(re.findall(r"^\s*def (test_\w+)\(", f.read(), re.M))
        assert test in defined, f"{where}: tests/{path} has no test named {test}"
    if status == "out of scope":
        return
    found = {api: resolves(api) for api in apis}
    if status == "✗":
        done = [api for api, ok in found.items() if ok]
        assert not done, f"{where}: {done} now exist in minitorch: update the row (✓ or partial)"
    else:
        missing = [api for api, ok in found.items() if not ok]
        assert not missing, f"{where}: {missing} marked {status} but not found in minitorch"
    if status == "✓":
        assert TEST_REF.search(test_cell), f"{where}: a ✓ row names the test that covers it"
