"""The Redis graph store: short-term working memory, optionally expiring a namespace after its last write."""
