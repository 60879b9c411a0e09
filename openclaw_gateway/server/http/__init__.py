"""HTTP on the gateway port: request heads and bodies, responses, and one ordered router.

Every plain (non-upgrade) request goes through `router.Router`: the probes, the web page and the
HTTP entry points are routes in one list, tried in order. Pure parts (messages) import no trio.
"""
