"""An Ollama server through the official ``ollama`` client; the only provider that pulls and deletes models."""
