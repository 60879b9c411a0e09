"""The web page at the gateway's address: the built-in dashboard or the official Control UI."""
