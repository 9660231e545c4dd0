"""The lexical layer and the EXPLAIN query-type policy of the Neo4j tools (pure logic, no driver)."""

from __future__ import annotations

import pytest

from servers.database.neo4j.driver import parse_target
from servers.database.neo4j.errors import Neo4jToolError
from servers.database.neo4j.statement_guard import blank, check_query_type, check_text


def refused_code(tool: str, access: str, query: str) -> str:
    with pytest.raises(Neo4jToolError) as caught:
        check_text(tool, access, query)  # type: ignore[arg-type]
    return caught.value.code


@pytest.mark.parametrize(
    "query",
    [
        "MATCH (n) RETURN n; MATCH (m) DETACH DELETE m",
        "MATCH (n) RETURN n;\nCREATE (x)",
        "RETURN 1 ; RETURN 2",
    ],
)
def test_more_than_one_statement_is_refused(query: str) -> None:
    assert refused_code("cypher_read", "read_only", query) == "multiple_statements"


def test_a_semicolon_inside_a_string_or_comment_is_only_text() -> None:
    checked = check_text("cypher_read", "read_only", "MATCH (n {name: 'a;b'}) // x; y\nRETURN n /* ; */;")
    assert checked.explain.startswith("EXPLAIN MATCH")
    assert not checked.text.rstrip().endswith(";")


@pytest.mark.parametrize(
    "query",
    [
        "LOAD CSV FROM 'http://169.254.169.254/latest/meta-data' AS row RETURN row",
        "load   csv with headers from 'file:///etc/passwd' AS r RETURN r",
        "USE system SHOW USERS",
        "CALL { USE other MATCH (n) RETURN n } RETURN n",
        "MATCH (n) RETURN n UNION USE other MATCH (n) RETURN n",
        "CALL dbms.killQuery('q-1')",
        "CALL dbms.security.createUser('x', 'y')",
        "CALL apoc.load.json('http://example.com') YIELD value RETURN value",
        "CALL db.createLabel('X')",
        "CALL apoc.cypher.doIt('CREATE (n)', {}) YIELD value RETURN value",
        "call  DB.clearQueryCaches()",
    ],
)
def test_cypher_read_refuses_files_other_databases_and_unlisted_procedures(query: str) -> None:
    assert refused_code("cypher_read", "read_only", query) == "refused"


def test_cypher_write_below_admin_refuses_server_administration_and_file_access() -> None:
    assert refused_code("cypher_write", "read_write", "CALL dbms.setConfigValue('a', 'b')") == "refused"
    assert refused_code("cypher_write", "read_write", "CALL apoc.export.csv.all('/tmp/x', {})") == "refused"
    assert (
        refused_code("cypher_write", "read_write", "LOAD CSV FROM 'file:///x' AS r CREATE (:R {v: r[0]})") == "refused"
    )
    assert check_text("cypher_write", "admin", "CALL dbms.setConfigValue('a', 'b')").text


def test_strings_comments_and_backquoted_names_cannot_hide_or_fake_keywords() -> None:
    assert check_text("cypher_read", "read_only", "MATCH (n) WHERE n.note = 'LOAD CSV; USE x' RETURN n").text
    assert check_text("cypher_read", "read_only", "MATCH (`CALL dbms.x`) RETURN 1").text
    assert blank("RETURN 'x' // c") == "RETURN " + " " * 3 + " " + " " * 4
    assert refused_code("cypher_read", "read_only", "MATCH (n) RETURN n /* */ ; CREATE (m)") == "multiple_statements"


def test_allowed_procedures_and_a_leading_explain_or_profile_are_accepted() -> None:
    assert check_text("cypher_read", "read_only", "CALL db.labels() YIELD label RETURN label").text
    assert check_text("cypher_read", "read_only", "CALL db.index.fulltext.queryNodes('idx', $q) YIELD node RETURN node")
    profiled = check_text("cypher_read", "read_only", "PROFILE MATCH (n) RETURN count(n)")
    assert profiled.explain == "EXPLAIN MATCH (n) RETURN count(n)"
    assert profiled.text == "PROFILE MATCH (n) RETURN count(n)"


def test_empty_or_nul_queries_are_refused() -> None:
    assert refused_code("cypher_read", "read_only", "  // only a comment\n ") == "invalid_query"
    assert refused_code("cypher_read", "read_only", "RETURN '\x00'") == "invalid_query"


@pytest.mark.parametrize(
    ("query_type", "allowed"), [("r", True), ("rw", False), ("w", False), ("s", False), (None, False)]
)
def test_cypher_read_accepts_only_the_read_query_type(query_type: str | None, allowed: bool) -> None:
    if allowed:
        check_query_type("cypher_read", "read_only", query_type)
        return
    with pytest.raises(Neo4jToolError) as caught:
        check_query_type("cypher_read", "read_write", query_type)
    assert caught.value.code == "refused"


def test_cypher_write_runs_writes_but_schema_changes_need_admin() -> None:
    for query_type in ("r", "rw", "w"):
        check_query_type("cypher_write", "read_write", query_type)
    with pytest.raises(Neo4jToolError):
        check_query_type("cypher_write", "read_write", "s")
    check_query_type("cypher_write", "admin", "s")


def test_credentials_and_database_are_parsed_out_of_the_url() -> None:
    target = parse_target("neo4j://app:p%40ss@graph.example:7687/movies")
    assert target.uri == "neo4j://graph.example:7687"
    assert target.auth == ("app", "p@ss") and target.database == "movies"
    bare = parse_target("bolt://localhost")
    assert bare.uri == "bolt://localhost" and bare.auth is None and bare.database is None
