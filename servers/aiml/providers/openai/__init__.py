"""Any OpenAI-compatible endpoint (vLLM, llama.cpp's server, LM Studio, OpenAI) over its HTTP API."""
