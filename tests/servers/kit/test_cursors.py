import pytest

from servers.kit.cursors import decode_cursor, encode_cursor, fingerprint, offset_cursor, offset_of
from servers.kit.tool_errors import CodedToolError


def test_a_cursor_gives_back_its_fields_to_the_query_that_issued_it() -> None:
    query = fingerprint("list", "/data", 3)
    cursor = encode_cursor({"o": 40, "k": ["b", 2]}, query)
    assert cursor.isascii() and "=" not in cursor
    assert decode_cursor(cursor, query) == {"o": 40, "k": ["b", 2]}


def test_a_fingerprint_changes_with_any_argument() -> None:
    assert fingerprint("list", "/data", 3) == fingerprint("list", "/data", 3)
    assert fingerprint("list", "/data", 3) != fingerprint("list", "/data", 4)


def test_a_cursor_of_another_query_is_refused_with_what_to_repeat() -> None:
    cursor = encode_cursor({"o": 1}, fingerprint("a"))
    with pytest.raises(CodedToolError) as refused:
        decode_cursor(cursor, fingerprint("b"), repeat="repeat the same sql with it")
    assert refused.value.code == "invalid_cursor"
    assert "repeat the same sql with it" in refused.value.detail


@pytest.mark.parametrize("garbage", ["garbage!!", "bm90IGpzb24", "WzEsMl0", "eyJwIjogMX0"])
def test_text_that_is_no_cursor_of_ours_is_refused(garbage: str) -> None:
    with pytest.raises(CodedToolError) as refused:
        decode_cursor(garbage, fingerprint("a"))
    assert refused.value.code == "invalid_cursor"
    assert "not one this server issued" in refused.value.detail


def test_an_offset_cursor_round_trips_and_none_starts_at_zero() -> None:
    query = fingerprint("search_files", "/data")
    assert offset_of(None, query) == 0
    assert offset_of(offset_cursor(50, query), query) == 50


@pytest.mark.parametrize("position", [-1, "3", 1.5, None])
def test_an_offset_cursor_with_a_bad_position_is_refused(position: object) -> None:
    query = fingerprint("x")
    with pytest.raises(CodedToolError) as refused:
        offset_of(encode_cursor({"p": position}, query), query)
    assert refused.value.code == "invalid_cursor"


def test_a_cursor_without_a_position_is_not_an_offset_cursor() -> None:
    query = fingerprint("x")
    with pytest.raises(CodedToolError) as refused:
        offset_of(encode_cursor({"o": 3}, query), query)
    assert "not one this server issued" in refused.value.detail
