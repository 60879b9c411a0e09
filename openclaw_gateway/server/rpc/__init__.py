"""RPC: the method registry, the call context, and one handler module per method family."""
