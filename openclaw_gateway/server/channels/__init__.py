"""Channel bridges: inbound `channel.message` -> an agent's session, the reply back through
`channel.send` on the bridge, from a bounded delivery queue that survives a restart."""
