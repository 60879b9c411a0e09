"""Sans-IO core of the OpenClaw wire protocol. Nothing here imports trio or reads a clock."""
