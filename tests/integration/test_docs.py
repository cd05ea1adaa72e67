"""The documentation holds together (issue 16): every relative link of
README.md, docs/*.md and schema/README.md reaches a file of the tree, and an
anchor (#section) a heading of that file; docs/exporter.md names exactly the
flags `qiflow-exporter --help` lists (their descriptions live in the man
page only, which test_manpage.py keeps equal to --help)."""

import re
import subprocess

import pytest

import qfstack

SRC = qfstack.SOURCE_DIR
LINK_RE = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE_RE = re.compile(r"^```.*?^```", re.M | re.S)


def doc_files():
    """The Markdown files whose links are checked."""
    return [SRC / "README.md", SRC / "schema" / "README.md",
            *sorted((SRC / "docs").glob("*.md"))]


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation but - and _
    dropped, spaces to -."""
    text = re.sub(r"`", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    """The anchors of path's headings (code blocks skipped), with GitHub's
    -1, -2 suffixes for repeats."""
    seen, out = {}, set()
    for line in FENCE_RE.sub("", path.read_text()).splitlines():
        m = re.match(r"^#{1,6} (.*)$", line)
        if not m:
            continue
        s = slug(m.group(1))
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else f"{s}-{n}")
    return out


def broken_links(path):
    """Every relative link of path that does not resolve, with why."""
    bad = []
    for target in LINK_RE.findall(FENCE_RE.sub("", path.read_text())):
        if re.match(r"^[a-z]+:", target):
            continue  # http:, https:, mailto:
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            bad.append(f"{target}: {dest} does not exist")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{target}: no heading #{anchor} in {dest.name}")
    return bad


def test_slug_follows_github():
    assert slug("Installing from the .deb") == "installing-from-the-deb"
    assert slug("Project figures (the backend's own rules, so both agree)") \
        == "project-figures-the-backends-own-rules-so-both-agree"
    assert slug("One status, whichever door the backend heard last") == \
        "one-status-whichever-door-the-backend-heard-last"


def test_the_checker_finds_a_broken_link(tmp_path):
    page = tmp_path / "a.md"
    (tmp_path / "b.md").write_text("# Here\n")
    page.write_text("[ok](b.md#here) [gone](c.md) [no](b.md#there)\n"
                    "```\n[in code](nowhere.md)\n```\n")
    assert broken_links(page) == [
        f"c.md: {tmp_path / 'c.md'} does not exist",
        "b.md#there: no heading #there in b.md"]


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.name)
def test_every_relative_link_resolves(path):
    assert path.exists(), path
    assert not broken_links(path)


def test_readme_stays_short():
    lines = (SRC / "README.md").read_text().count("\n")
    assert lines <= 300, f"README.md has {lines} lines; reference goes " \
                         f"into docs/"


def test_exporter_doc_names_every_flag_of_help():
    exe = qfstack.BUILD_DIR / "bin" / "qiflow-exporter"
    if not exe.exists():
        pytest.skip(f"{exe} not built")
    out = subprocess.run([str(exe), "--help"], capture_output=True,
                         text=True, timeout=10, check=True).stdout
    helped = set(re.findall(r"^\s+(--[a-z][a-z0-9-]*)", out, re.M))
    helped -= {"--help", "--version"}
    doc = (SRC / "docs" / "exporter.md").read_text()
    section = re.search(r"^## Flags\n(.*?)^## ", doc, re.M | re.S).group(1)
    named = set(re.findall(r"`(--[a-z][a-z0-9-]*)", section)) - {"--flag"}
    assert len(helped) >= 15, out
    assert named == helped, {"not in docs/exporter.md": helped - named,
                             "not in --help": named - helped}
