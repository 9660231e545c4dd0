"""What every server shares: coded tool errors, cursors, output budgets and the scoped-call helper.

A server imports these instead of writing its own (see ``servers/README.md``, the checklist for a new server).
"""
