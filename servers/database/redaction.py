"""Where :mod:`servers.database.errors` finds :func:`redact`: the connection-URL scrubbing is in :mod:`.url_redaction`.

Kept only for ``errors.py``, which is being replaced by the shared server kit; delete this module with it.
"""

from __future__ import annotations

from servers.database.url_redaction import redact

__all__ = ["redact"]
