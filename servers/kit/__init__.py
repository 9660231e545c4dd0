"""What every server shares: coded tool errors, cursors, output budgets, the scoped-call helper,
path policy (``paths``) and embedders with their cache (``embedders``).

A server imports these instead of writing its own (see ``servers/README.md``, the checklist for a new server).
"""
