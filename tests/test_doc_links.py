"""Every relative link in README.md and docs/*.md leads somewhere: the file exists, and an
``#anchor`` names a heading of the target (GitHub's heading ids).

Links are read with markdown-it-py (the parser rich already brings), so links inside code
spans and fenced blocks are not links; http(s) and mailto links are not checked (no network).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_md = MarkdownIt("commonmark").enable("table")


def _tokens(path: Path):
    for token in _md.parse(path.read_text(encoding="utf-8")):
        yield token
        yield from token.children or []


def heading_ids(path: Path) -> set[str]:
    """GitHub's ids of ``path``'s headings: lower case, punctuation dropped, spaces to hyphens, repeats numbered."""
    ids: set[str] = set()
    tokens = list(_md.parse(path.read_text(encoding="utf-8")))
    for opening, inline in zip(tokens, tokens[1:], strict=False):
        if opening.type != "heading_open":
            continue
        text = "".join(child.content for child in inline.children or [] if child.type in ("text", "code_inline"))
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in ids:
            n += 1
            candidate = f"{slug}-{n}"
        ids.add(candidate)
    return ids


def relative_links(path: Path) -> list[str]:
    """The targets of ``path``'s links that are neither absolute URLs nor mail addresses."""
    targets = [t.attrs["href"] for t in _tokens(path) if t.type == "link_open"]
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.IGNORECASE)]


def test_the_pages_exist_and_the_readme_is_one_screen_or_two():
    assert len(PAGES) > 8
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 120


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for target in relative_links(page):
        file_part, _, anchor = target.partition("#")
        resolved = (page.parent / file_part).resolve() if file_part else page
        if not resolved.exists():
            broken.append(f"{target}: no file {resolved}")
        elif anchor and resolved.suffix == ".md" and anchor not in heading_ids(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.name}")
    assert not broken, f"{page.name}:\n" + "\n".join(broken)


def test_the_checker_sees_a_broken_link_and_anchor(tmp_path):
    (tmp_path / "a.md").write_text("# Title here\n\n## Same\n\n## Same\n\n[x](b.md) [y](#same-1) `[z](nowhere.md)`\n")
    assert relative_links(tmp_path / "a.md") == ["b.md", "#same-1"]
    assert heading_ids(tmp_path / "a.md") == {"title-here", "same", "same-1"}
