"""Inbound HTTP hooks (official `hooks.*`): `POST <path>/wake`, `POST <path>/agent` and
template mappings, behind a dedicated hook token. config.py reads and checks the settings,
templates.py renders mapping templates (pure), route.py answers the requests."""
