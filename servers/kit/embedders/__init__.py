"""Embedders every server may use: the bundled local model, Ollama, OpenAI-compatible APIs, and their cache.

``factory.build_embedder`` / ``factory.EmbedderSet`` build them from ``settings.EmbedderSettings``;
``base`` holds the protocol, the identity a collection pins, and the coded error. See docs/embeddings.md.
"""
