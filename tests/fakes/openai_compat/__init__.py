"""Stand-in for a local OpenAI-compatible model server (Ollama, vLLM, llama.cpp server)."""
