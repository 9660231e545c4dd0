"""Paths a server may touch: the operator's allowed roots and deny globs, client roots, and the text-file walk.

``policy.Policy`` (built with the server's coded error class), ``globs`` (include/exclude
patterns), ``settings.PathRoot`` / ``settings.DEFAULT_DENY_GLOBS`` (the shape of ``roots:`` and
``deny:``), ``walk.walk_text_files`` / ``walk.read_text`` (what an ingest reads).
"""
