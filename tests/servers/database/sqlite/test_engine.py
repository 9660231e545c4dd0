"""SQLite connections: the embedded workspace, write escapes against read access, paging, the deadline."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mesh.config import Settings
from servers.database.connections import NamedConnection
from servers.database.errors import DbError
from servers.database.server import build_server
from servers.database.sqlite.engine import SqliteEngine
from servers.database.sqlite.statement_guard import Authorizer, check_single_statement
from suite.settings import SuiteSettings
from tests.servers.database.support import connection, data, error_text, refused, settings_with


def _make_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL DEFAULT 0);
        CREATE TABLE tags (item_id INTEGER REFERENCES items(id), tag TEXT);
        CREATE INDEX tags_item ON tags (item_id);
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
        INSERT INTO items SELECT i, 'item ' || i, i * 1.5 FROM n;
        INSERT INTO tags SELECT id, 'even' FROM items WHERE id % 2 = 0;
        """
    )
    conn.commit()
    conn.close()
    return path


def _checksum(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        dump = "\n".join(conn.iterdump())
    finally:
        conn.close()
    return hashlib.sha256(dump.encode()).hexdigest()


@pytest.fixture
def lite(tmp_path: Path) -> Path:
    return _make_db(tmp_path / "lite.db")


@pytest.fixture
def lite_settings(tmp_path: Path, lite: Path) -> Settings:
    return settings_with(
        tmp_path / "data", ro=connection(f"sqlite:///{lite}"), rw=connection(f"sqlite:///{lite}", "read_write")
    )


# The layers of a SQLite read (servers/database/sqlite/), in the order a statement meets them: the
# one-statement check (check_single_statement, and sqlite3's own refusal of a second statement), the
# authorizer in read mode (refused), PRAGMA query_only (read_only), the file opened with mode=ro on a
# read_only connection (read_only), and the deadline (timeout; it refuses no escape). Per attempt: the code
# the whole stack answers (the first layer that stops it), then what the authorizer alone, query_only
# alone and the read-only file alone answer (None: that layer does not stop it). Multi-statement attempts
# are stopped by the one-statement check before any other layer: their columns name only that.
@dataclass(frozen=True)
class LiteEscape:
    sql: str
    code: str
    authorizer: str | None
    query_only: str | None
    read_only_file: str | None


def _lite(sql: str, query_only: str | None, read_only_file: str | None, code: str = "refused") -> LiteEscape:
    return LiteEscape(sql, code, code if code == "refused" else None, query_only, read_only_file)


RO, SQL = "read_only", "sql_error"  # SQL: SQLite itself failed the statement, no safety layer
SINGLE = [
    "SELECT 1; DELETE FROM items",
    "COMMIT; DROP TABLE items",
    "; DROP TABLE items",
    "SELECT 1 /* ; */; DROP TABLE items",
    "SELECT 1 -- c\n; DELETE FROM items",
    "SELECT ';'; DELETE FROM items",
]
SQLITE_ESCAPES = [
    _lite("DELETE FROM items", RO, RO),
    _lite("DROP TABLE items", RO, RO),
    _lite("UPDATE items SET name = 'x'", RO, RO),
    _lite("INSERT INTO items (name) VALUES ('x')", RO, RO),
    *(LiteEscape(sql, "refused", None, None, None) for sql in SINGLE),
    _lite("ATTACH DATABASE '/tmp/mcp_attach_escape.db' AS evil", None, None),  # would create the file
    _lite("DETACH DATABASE main", SQL, SQL),
    _lite("PRAGMA query_only = OFF", None, None),
    _lite("PRAGMA user_version = 42", RO, RO),
    _lite("PRAGMA journal_mode = DELETE", None, None),
    _lite("PRAGMA writable_schema = ON", None, None),
    _lite("VACUUM", RO, RO),
    _lite("VACUUM INTO '/tmp/mcp_vacuum_escape.db'", RO, None),  # a read-only file still writes the copy
    _lite("REINDEX", RO, RO),
    _lite("ANALYZE", RO, RO),
    _lite("BEGIN", None, None),
    _lite("SAVEPOINT s", None, None),
    _lite("CREATE TABLE evil (x)", RO, RO),
    _lite("CREATE TEMP TABLE evil (x)", RO, None),  # the temp database is writable
    _lite("CREATE TRIGGER t AFTER INSERT ON items BEGIN DELETE FROM items; END", RO, RO),
    _lite("WITH x AS (SELECT 1) DELETE FROM items", RO, RO),
    _lite("SELECT load_extension('/tmp/evil.so')", SQL, SQL),  # extension loading is off in sqlite3
    _lite("INSERT INTO items SELECT * FROM items", RO, RO),
    _lite("REPLACE INTO items VALUES (1, 'x', 0)", RO, RO),
    _lite("ALTER TABLE items RENAME TO gone", RO, RO),
    _lite("SELECT 1\uff1b DELETE FROM items", SQL, SQL, code=SQL),  # a fullwidth semicolon: SQLite's parser
]
LITE_IDS = [f"sqlite-escape-{i:02d}" for i in range(len(SQLITE_ESCAPES))]
ESCAPE_FILES = (Path("/tmp/mcp_attach_escape.db"), Path("/tmp/mcp_vacuum_escape.db"))


class _AllowAll(Authorizer):
    """An authorizer that allows everything: the layers behind it stand alone."""

    def __call__(self, action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
        return sqlite3.SQLITE_OK


class AuthorizerOnly(SqliteEngine):
    def _query_only(self, mode: str) -> bool:
        return False


class QueryOnlyOnly(SqliteEngine):
    def _authorizer(self, mode: str, statement: str = "") -> Authorizer:
        return _AllowAll(mode)


class ReadOnlyFileOnly(QueryOnlyOnly):
    def _query_only(self, mode: str) -> bool:
        return False


def _lite_code(text: str) -> str:
    """The stable code a tool error's text starts with (after the SDK's "Error executing tool <name>: ")."""
    if text.startswith("Error executing tool "):
        text = text.split(": ", 1)[1]
    return text.split(":", 1)[0]


def _probe(path: Path) -> tuple[str, list[Any], list[str]]:
    """The file's content, the settings an escape could change, and the files an escape could write."""
    conn = sqlite3.connect(path)
    try:
        settings = [conn.execute(f"PRAGMA {name}").fetchone()[0] for name in ("user_version", "journal_mode")]
    finally:
        conn.close()
    return _checksum(path), settings, [str(p) for p in ESCAPE_FILES if p.exists()]


@pytest.mark.anyio
@pytest.mark.parametrize("target", ["ro", "rw"])
@pytest.mark.parametrize("escape", SQLITE_ESCAPES, ids=LITE_IDS)
async def test_sql_query_on_sqlite_refuses_each_write_escape_with_its_code_and_nothing_changes(
    lite_settings: Settings, lite: Path, target: str, escape: LiteEscape
) -> None:
    before = _probe(lite)
    assert before[2] == []
    async with Client(build_server(lite_settings), mode="legacy") as client:
        result = await client.call_tool("sql_query", {"sql": escape.sql, "connection": target})
        alive = await client.call_tool("sql_query", {"sql": "SELECT count(*) FROM items", "connection": target})
    text = error_text(result)
    assert _lite_code(text) == escape.code and "Traceback" not in text, text
    assert data(alive)["rows"] == [[1000]]
    assert _probe(lite) == before


def _alone(layer: str) -> tuple[list[LiteEscape], list[str]]:
    chosen = [(e, i) for e, i in zip(SQLITE_ESCAPES, LITE_IDS, strict=True) if getattr(e, layer) is not None]
    return [e for e, _ in chosen], [i for _, i in chosen]


@pytest.mark.parametrize("sql", SINGLE)
def test_the_one_statement_check_alone_refuses_each_multi_statement_escape(sql: str) -> None:
    with pytest.raises(DbError) as error:
        check_single_statement(sql)
    assert error.value.code == "refused"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("engine_class", "access", "layer"),
    [
        (AuthorizerOnly, "read_write", "authorizer"),
        (QueryOnlyOnly, "read_write", "query_only"),
        (ReadOnlyFileOnly, "read_only", "read_only_file"),
    ],
    ids=["authorizer", "query_only", "read_only_file"],
)
async def test_each_sqlite_layer_alone_refuses_the_escapes_it_stops(
    lite: Path, engine_class: type[SqliteEngine], access: str, layer: str
) -> None:
    escapes, ids = _alone(layer)
    before = _probe(lite)
    answers: dict[str, str | None] = {}
    left: dict[str, list[str]] = {}
    for escape, escape_id in zip(escapes, ids, strict=True):
        engine = engine_class(NamedConnection("c", connection(f"sqlite:///{lite}", access)), 1)
        try:
            await engine.query(escape.sql, [], 10, None)
            answers[escape_id] = None
        except DbError as exc:
            answers[escape_id] = exc.code
        finally:
            await engine.close()
            for path in ESCAPE_FILES:
                if path.exists():
                    left.setdefault(escape.sql, []).append(str(path))
                    path.unlink()
    assert answers == {i: getattr(e, layer) for e, i in zip(escapes, ids, strict=True)}
    # query_only refuses VACUUM INTO only after SQLite created the (empty) target: the authorizer is what stops it
    assert left == (
        {"VACUUM INTO '/tmp/mcp_vacuum_escape.db'": ["/tmp/mcp_vacuum_escape.db"]} if layer == "query_only" else {}
    )
    assert _probe(lite) == before


@pytest.mark.anyio
async def test_with_no_connection_configured_the_workspace_is_a_read_write_sqlite_database() -> None:
    settings = SuiteSettings()
    async with Client(build_server(settings), mode="legacy") as client:
        listing = data(await client.call_tool("list_connections", {}))
        created = data(
            await client.call_tool("sql_execute", {"sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"})
        )
        inserted = data(
            await client.call_tool(
                "sql_execute", {"sql": "INSERT INTO notes (body) VALUES (?), (?)", "params": ["a", "b"]}
            )
        )
        rows = data(await client.call_tool("sql_query", {"sql": "SELECT body FROM notes ORDER BY id"}))
    assert listing["connections"][0]["name"] == "workspace" and listing["connections"][0]["access"] == "read_write"
    assert created["statement_kind"] == "CREATE" and inserted["rows_affected"] == 2
    assert rows["rows"] == [["a"], ["b"]]
    assert (settings.data_dir / "database" / "workspace.db").is_file()


@pytest.mark.anyio
async def test_sqlite_pages_continue_exactly_where_the_last_stopped(lite_settings: Settings) -> None:
    sql = "SELECT id FROM items ORDER BY id DESC"
    async with Client(build_server(lite_settings), mode="legacy") as client:
        first = data(await client.call_tool("sql_query", {"sql": sql, "limit": 300}))
        second = data(await client.call_tool("sql_query", {"sql": sql, "limit": 300, "cursor": first["next_cursor"]}))
    assert [r[0] for r in first["rows"]] == list(range(1000, 700, -1))
    assert [r[0] for r in second["rows"]] == list(range(700, 400, -1))


@pytest.mark.anyio
async def test_a_runaway_sqlite_query_is_stopped_at_the_deadline(tmp_path: Path, lite: Path) -> None:
    settings = settings_with(tmp_path / "data", slow=connection(f"sqlite:///{lite}", statement_timeout_ms=200))
    sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    async with Client(build_server(settings), mode="legacy") as client:
        result = await client.call_tool("sql_query", {"sql": sql})
    refused(result, "timeout")


@pytest.mark.anyio
async def test_sqlite_writes_preview_then_commit(lite_settings: Settings, lite: Path) -> None:
    before = _checksum(lite)
    async with Client(build_server(lite_settings), mode="legacy") as client:
        preview = data(
            await client.call_tool(
                "sql_execute", {"sql": "DELETE FROM tags WHERE item_id <= ?", "params": [10], "preview": True}
            )
        )
        unchanged = _checksum(lite)
        done = data(
            await client.call_tool("sql_execute", {"sql": "DELETE FROM tags WHERE item_id <= ?", "params": [10]})
        )
        attach = await client.call_tool("sql_execute", {"sql": "ATTACH DATABASE ':memory:' AS x"})
        ro = await client.call_tool("sql_execute", {"sql": "DELETE FROM tags", "connection": "ro"})
    assert preview["estimated_rows"] == 5 and preview["estimate_source"] == "dry_run_rolled_back"
    assert unchanged == before
    assert done["rows_affected"] == 5
    refused(attach, "refused")
    refused(ro, "read_only")


@pytest.mark.anyio
async def test_sqlite_introspection_and_plans(lite_settings: Settings) -> None:
    async with Client(build_server(lite_settings), mode="legacy") as client:
        tables = data(await client.call_tool("list_tables", {}))
        tags = data(await client.call_tool("describe_table", {"table": "tags"}))
        items = data(await client.call_tool("describe_table", {"table": "items"}))
        plan = data(await client.call_tool("sql_explain", {"sql": "SELECT * FROM tags WHERE item_id = 3"}))
        pragma = data(await client.call_tool("sql_query", {"sql": "PRAGMA table_info(items)"}))
    assert [t["name"] for t in tables["tables"]] == ["items", "tags"]
    assert tags["foreign_keys"][0]["references_table"] == "items" and tags["indexes"][0]["name"] == "tags_item"
    assert items["primary_key"] == ["id"] and items["row_estimate"] == 1000
    assert any("tags_item" in line for line in plan["plan"])
    assert pragma["row_count"] == 3
