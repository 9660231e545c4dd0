"""The command line, the launcher and the benches: the only package that starts servers by name."""
