"""The top floor: the gateway, the launcher and the command line. Reaches servers over MCP only."""
