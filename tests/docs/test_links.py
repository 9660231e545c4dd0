"""The docs' relative links and anchors resolve, and the checker that says so catches broken ones."""

from __future__ import annotations

from pathlib import Path

from tests.support.markdown_links import anchors, check_file, check_tree, github_slug, markdown_files

ROOT = Path(__file__).resolve().parents[2]


def test_the_docs_include_the_readme_the_contributing_guide_and_the_docs_folder() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in markdown_files(ROOT)}
    assert {"README.md", "CONTRIBUTING.md", "docs/configuration.md", "docs/benchmarks.md"} <= names
    assert not any(name.startswith((".venv/", "node_modules/")) for name in names)


def test_every_relative_link_and_anchor_in_the_docs_resolves() -> None:
    problems = check_tree(ROOT)
    assert not problems, "broken links:\n" + "\n".join(str(problem) for problem in problems)


def test_headings_get_githubs_slugs_with_suffixes_for_repeats() -> None:
    assert github_slug("Running the whole suite: `mcp-suite up`") == "running-the-whole-suite-mcp-suite-up"
    assert github_slug("Redis and Neo4j: known limits") == "redis-and-neo4j-known-limits"
    assert github_slug("Read (always listed)") == "read-always-listed"
    assert github_slug("`registry.consul.*`, env `MCP_SUITE_X`") == "registryconsul-env-mcp_suite_x"
    assert github_slug("See [the guide](guide.md)") == "see-the-guide"
    assert github_slug("Env `PREFIX_<KEY>` <em>now</em>") == "env-prefix_key-now"
    text = "# Speed\n\n## Speed\n\n```sh\n# not a heading\n```\n\n### Speed\n"
    assert anchors(text) == {"speed", "speed-1", "speed-2"}


def test_a_broken_link_and_a_broken_anchor_are_both_reported(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n\n## Set up\n\n## Set up\n", encoding="utf-8")
    page = tmp_path / "README.md"
    page.write_text(
        "# Title\n\n"
        "[fine](docs/guide.md#set-up-1) [here](#title) [folder](docs/) [web](https://example.com/x.md)\n"
        "[gone](docs/missing.md)\n"
        "[wrong anchor](docs/guide.md#install)\n"
        "[wrong here](#nothing)\n\n"
        "`[in code](nowhere.md)`\n\n"
        "```md\n[in a block](nowhere.md)\n```\n",
        encoding="utf-8",
    )
    problems = check_file(page, tmp_path)
    assert [(problem.line, problem.target) for problem in problems] == [
        (4, "docs/missing.md"),
        (5, "docs/guide.md#install"),
        (6, "#nothing"),
    ]
    assert "no such file" in problems[0].reason
    assert "#install" in problems[1].reason
