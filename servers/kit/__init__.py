"""What every server shares: coded tool errors, cursors, output budgets, the scoped-call helper,
path policy (``paths``), embedders with their cache (``embedders``), and a tool's progress and
resource-change notifications (``notifications``).

A server imports these instead of writing its own (see ``servers/README.md``, the checklist for a new server).
"""
