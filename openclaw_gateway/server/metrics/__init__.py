"""Prometheus metrics of the gateway: the instruments (instruments.py, one private registry per
gateway) and the `GET /api/diagnostics/prometheus` route (route.py)."""
