"""The documentation under docs/ is checked like code:

* every ```python block runs (each on its own, in a fresh namespace and a scratch directory)
  and checks its claims with assert; a block whose first line is ``# doc: no-run`` is skipped;
* every relative link points at a file that exists, and a link whose text is a code name
  (``[`ops.MatMul.backward`](../minitorch/ops.py)``) names a class/function defined in that file;
* every page is listed in docs/README.md;
* every erratum E01… in docs/errata.md has its test in tests/test_errata.py, and vice versa.
"""
import os
import re

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
DOCS = os.path.join(ROOT, "docs")
PAGES = sorted(f for f in os.listdir(DOCS) if f.endswith(".md"))
NO_RUN = "# doc: no-run"


def read(page):
    with open(os.path.join(DOCS, page), encoding="utf-8") as f:
        return f.read()


def python_blocks(text):
    """(line number, code) of every ```python fenced block."""
    blocks = []
    for m in re.finditer(r"^```python[ \t]*\n(.*?)^```[ \t]*$", text, re.M | re.S):
        blocks.append((text.count("\n", 0, m.start()) + 2, m.group(1)))
    return blocks


SNIPPETS = [(page, line, code) for page in PAGES for line, code in python_blocks(read(page))
            if not code.lstrip().startswith(NO_RUN)]


def test_there_are_pages_and_snippets():
    assert "README.md" in PAGES and "errata.md" in PAGES
    assert len(SNIPPETS) >= 10


@pytest.mark.parametrize("page,line,code", SNIPPETS,
                         ids=[f"{p}:{line}" for p, line, _ in SNIPPETS])
def test_snippet_runs(page, line, code, tmp_path, monkeypatch):
    assert re.search(r"^\s*assert\b", code, re.M), f"{page}:{line}: a snippet must check its claim"
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"docs/{page}:{line}", "exec"), {"__name__": "__doc_snippet__"})


LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def code_links():
    for page in PAGES:
        text = read(page)
        for m in LINK.finditer(text):
            label, target = m.groups()
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # external, or an anchor in the same page
            yield page, label, target


def test_relative_links_exist():
    missing = []
    for page, label, target in code_links():
        path = os.path.normpath(os.path.join(DOCS, target.split("#")[0]))
        if not os.path.exists(path):
            missing.append(f"{page}: [{label}]({target})")
    assert not missing, "broken links:\n" + "\n".join(missing)


def definitions(path):
    with open(path, encoding="utf-8") as f:
        source = f.read()
    return set(re.findall(r"^\s*(?:class|def)\s+(\w+)", source, re.M)) | \
        set(re.findall(r"^(\w+)\s*=", source, re.M))


def test_code_links_name_what_the_file_defines():
    """[`Conv2d.backward`](../minitorch/nn/functional/conv.py): Conv2d and backward are defined
    there. Leading parts that spell the module path (``ops.``, ``nn.functional.``) are skipped."""
    checked, wrong = 0, []
    for page, label, target in code_links():
        m = re.fullmatch(r"`([\w.]+)(?:\(\))?`", label)
        path = os.path.normpath(os.path.join(DOCS, target.split("#")[0]))
        if not m or not path.endswith(".py") or not os.path.exists(path):
            continue
        module_parts = set(os.path.relpath(path, ROOT)[:-3].split(os.sep)) | {"minitorch", "F"}
        parts = m.group(1).split(".")
        while parts and parts[0] in module_parts and parts[0] not in definitions(path):
            parts = parts[1:]
        defined = definitions(path)
        checked += 1
        if not parts or any(p not in defined for p in parts):
            wrong.append(f"{page}: [{label}]({target})")
    assert checked >= 40
    assert not wrong, "links naming something the file does not define:\n" + "\n".join(wrong)


def test_every_page_is_in_the_index():
    index = read("README.md")
    listed = set(re.findall(r"\]\(([\w]+\.md)\)", index))
    assert listed == set(PAGES) - {"README.md"}


def test_every_erratum_has_a_test():
    errata = set(re.findall(r"^\|\s*\*?\*?(E\d\d)\b", read("errata.md"), re.M))
    with open(os.path.join(ROOT, "tests", "test_errata.py"), encoding="utf-8") as f:
        tests = set(e.upper() for e in re.findall(r"^def test_(e\d\d)_", f.read(), re.M))
    assert errata and errata == tests
