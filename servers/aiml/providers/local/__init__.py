"""The embedded provider: the bundled gemma3-270m GGUF on llama-cpp-python, and the kit's offline embedder."""
