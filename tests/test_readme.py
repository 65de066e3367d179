"""README is the newcomer's guide: its commands must exist and say where they run; the reference it
links to lives in docs/, each page reachable, and neither narrates the project's history."""

from __future__ import annotations

import importlib.util
import re
import tomllib

from tests.helpers.project import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
DOCS = {path: path.read_text(encoding="utf-8") for path in sorted((REPO / "docs").rglob("*.md"))}
# The guide and every page it sends a reader to (experiments/ and bench/ keep their own READMEs)
PAGES = {REPO / "README.md": README, **DOCS}
for extra in ("experiments/README.md", "bench/README.md"):
    PAGES[REPO / extra] = (REPO / extra).read_text(encoding="utf-8")

MAX_README_LINES = 250
# The history grep: `grep -rniE "deprecat|old (path|name|layout)|as before|used to" README.md docs`
# must print nothing; the other phrases narrate the same way.
HISTORY = re.compile(r"deprecat|old (path|name|layout)|as before|used to", re.IGNORECASE)
MORE_HISTORY = re.compile(r"no longer|for one release|old behaviou?r", re.IGNORECASE)


def section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def test_quick_start_says_how_to_enter_the_virtualenv_the_make_targets_create():
    quick_start = section("Quick start")
    makefile = (REPO / "Makefile").read_text()
    venv = re.search(r"^VENV \?= (\S+)$", makefile, re.MULTILINE).group(1)
    assert f"source {venv}/bin/activate" in quick_start
    assert f"{venv}/bin/" in quick_start and "make venv" in quick_start
    assert re.search(r"^venv:", makefile, re.MULTILINE), "the documented `make venv` target exists"


def test_quick_start_gives_the_test_command_ci_runs():
    assert "make test " in section("Quick start") or "make test\n" in section("Quick start")
    assert re.search(r"^make test\b", (REPO / ".ci" / "run").read_text(), re.MULTILINE), ".ci/run calls make test"
    assert re.search(r"^test:", (REPO / "Makefile").read_text(), re.MULTILINE)


def test_every_python_m_command_in_the_readme_and_docs_exists():
    readme_modules = set(re.findall(r"python -m (obstacles(?:\.\w+)+)", README))
    assert len(readme_modules) > 5
    modules = {m for text in PAGES.values() for m in re.findall(r"python -m (obstacles(?:\.\w+)+)", text)}
    missing = sorted(m for m in modules if importlib.util.find_spec(m) is None)
    assert missing == [], f"README or docs name modules that do not exist: {missing}"


def test_the_command_table_lists_every_command_with_its_console_script():
    table = section("Commands")
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    commands = sorted(p.stem for p in (REPO / "src" / "obstacles" / "commands").glob("*.py") if p.stem != "__init__")
    assert commands, "the commands package has modules"
    for tool in commands:
        script = "obstacles-" + tool.replace("_", "-")
        assert scripts.get(script) == f"obstacles.commands.{tool}:main", f"{script} in pyproject.toml"
        row = re.search(rf"^\| `python -m obstacles\.commands\.{tool}` \| `{script}` \|.+\|$", table, re.MULTILINE)
        assert row, f"the README's command table has a row for {tool} with {script}"


def test_readme_is_a_guide_of_at_most_250_lines():
    lines = README.count("\n") + (not README.endswith("\n"))
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; the reference belongs in docs/"


def test_readme_and_docs_narrate_no_history():
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path, text in PAGES.items()
        for number, line in enumerate(text.splitlines(), 1)
        if HISTORY.search(line) or MORE_HISTORY.search(line)
    ]
    assert found == [], "say what is, not what was:\n" + "\n".join(found)


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}


def test_every_link_between_readme_and_docs_resolves():
    broken = []
    for path, text in PAGES.items():
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+://", target):
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                broken.append(f"{path.relative_to(REPO)}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked.read_text(encoding="utf-8")):
                broken.append(f"{path.relative_to(REPO)}: {target} (no such heading)")
    assert broken == [], "\n".join(broken)


def test_the_readme_links_every_docs_page():
    linked = {(REPO / target).resolve() for target in re.findall(r"\]\((docs/[^)#\s]+)", README)}
    unlinked = sorted(str(p.relative_to(REPO)) for p in DOCS if p.resolve() not in linked)
    assert unlinked == [], f"docs pages the README never links: {unlinked}"
