"""The suite as a user runs it: the command line, the launcher, the benches, client configuration.

The only package that starts servers by name: :mod:`.known` maps each name to its server module.

- :mod:`.cli` is ``mcp-suite``: ``serve``, ``gateway``, ``up``, ``status``, ``client-config``, ``token``,
  ``bench``;
- :mod:`.known` is the name -> module map of the suite's servers;
- :mod:`.launcher` is ``mcp-suite up`` (spawn, watch, restart) and ``mcp-suite status``;
- :mod:`.client_config` writes the Claude Desktop / Claude Code configuration;
- :mod:`.bench` is ``mcp-suite bench``.
"""
