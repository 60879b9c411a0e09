"""Pure security rules: shared-secret auth, scopes, Origin policy, trusted proxies, rate
limiters and budgets, ed25519 device proofs, pairing and node-capability rules.

No trio and no I/O: time comes in as an argument, so every rule has plain synchronous tests.
"""
