"""The vectorstore server: one tool surface over Chroma and Qdrant, embedded and offline by default.

The storage side lives here and in :mod:`servers.vectorstore.backends`: the collection record
(:mod:`.record`), the portable filter language (:mod:`.filters`), rank fusion and diversification
(:mod:`.ranking`) and the BM25 keyword index (:mod:`.keyword_index`).
"""
