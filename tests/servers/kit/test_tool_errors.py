import pickle

from mcp.server.mcpserver.exceptions import ToolError

from servers.kit.tool_errors import CodedToolError


class ServerError(CodedToolError):
    pass


def test_a_coded_error_reads_code_first_and_keeps_its_parts() -> None:
    error = CodedToolError("not_found", "'a.txt' does not exist")
    assert isinstance(error, ToolError)
    assert str(error) == "not_found: 'a.txt' does not exist"
    assert (error.code, error.detail) == ("not_found", "'a.txt' does not exist")


def test_a_servers_own_error_crosses_a_process_boundary_as_itself() -> None:
    copy = pickle.loads(pickle.dumps(ServerError("stale", "the file changed")))
    assert type(copy) is ServerError
    assert (copy.code, copy.detail, str(copy)) == ("stale", "the file changed", "stale: the file changed")
