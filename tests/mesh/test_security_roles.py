"""Roles: glob patterns per kind, levels (role, supervisor, server), deny wins, default deny."""

from __future__ import annotations

from mesh.security.principal import ANONYMOUS, Principal
from mesh.security.roles import Item, RolePolicy
from mesh.security.settings import RoleSettings, RuleSet

READ = Item("tool", "filesystem_read_text_file", "filesystem", ("system",))
WRITE = Item("tool", "filesystem_write_file", "filesystem", ("system",))
QUERY = Item("tool", "database_sql_query", "database", ("system",))
PROMPT = Item("prompt", "database_explain", "database", ("system",))
FILE = Item("resource", "file:///etc/passwd", "filesystem", ("system",))


def who(*roles: str) -> Principal:
    return Principal("p", roles=roles, method="jwt")


def test_a_reader_role_allows_reads_and_nothing_else() -> None:
    policy = RolePolicy({"reader": RoleSettings(allow=("filesystem_read_*",))})
    assert policy.allows(who("reader"), READ)
    assert not policy.allows(who("reader"), WRITE)
    assert not policy.allows(who("reader"), QUERY)


def test_deny_wins_over_allow_whatever_the_level_or_role() -> None:
    policy = RolePolicy(
        {
            "all": RoleSettings(allow=("*",)),
            "careful": RoleSettings(servers={"filesystem": RuleSet(deny=("filesystem_write_*",))}),
        }
    )
    assert policy.allows(who("all"), WRITE)
    assert not policy.allows(who("all", "careful"), WRITE)
    assert policy.allows(who("all", "careful"), READ)


def test_supervisor_level_rules_speak_only_about_that_supervisors_items() -> None:
    policy = RolePolicy({"ops": RoleSettings(supervisors={"system": RuleSet(allow=("*",))})})
    assert policy.allows(who("ops"), QUERY)
    elsewhere = Item("tool", "aiml_generate", "aiml", ("intelligence",))
    assert not policy.allows(who("ops"), elsewhere)


def test_server_level_rules_speak_only_about_that_servers_items() -> None:
    policy = RolePolicy({"db": RoleSettings(servers={"database": RuleSet(allow=("*",))})})
    assert policy.allows(who("db"), QUERY)
    assert not policy.allows(who("db"), READ)


def test_plain_patterns_match_tools_and_prompts_but_resources_need_their_prefix() -> None:
    policy = RolePolicy({"r": RoleSettings(allow=("*",))})
    assert policy.allows(who("r"), PROMPT)
    assert not policy.allows(who("r"), FILE)
    files = RolePolicy({"r": RoleSettings(allow=("resource:file://*",))})
    assert files.allows(who("r"), FILE)
    assert not files.allows(who("r"), READ)


def test_kind_prefixes_narrow_a_pattern_to_tools_or_prompts() -> None:
    policy = RolePolicy({"r": RoleSettings(allow=("prompt:database_*",))})
    assert policy.allows(who("r"), PROMPT)
    assert not policy.allows(who("r"), QUERY)


def test_an_unknown_role_or_no_role_grants_nothing_and_anonymous_is_unrestricted() -> None:
    policy = RolePolicy({"reader": RoleSettings(allow=("*",))})
    assert not policy.allows(who("ghost"), READ)
    assert not policy.allows(who(), READ)
    assert policy.allows(ANONYMOUS, WRITE)
