"""The main session: system events, wake and heartbeats (agent turns the gateway starts)."""
