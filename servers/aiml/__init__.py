"""The aiml server: models behind one interface (local, OpenAI-compatible, Ollama), governed by a policy.

``server.DEFINITION`` is what ``mcp-suite serve aiml`` runs.
"""
