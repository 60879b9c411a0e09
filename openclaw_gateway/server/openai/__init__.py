"""The OpenAI-compatible HTTP endpoints on the gateway port (official openai-http.ts,
models-http.ts): `/v1/models[/{id}]` and `/v1/chat/completions`, each request a normal agent run
through the run manager. Off unless gateway.http.endpoints.chatCompletions.enabled.
"""
