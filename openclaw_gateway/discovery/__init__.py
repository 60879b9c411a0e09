"""Gateway discovery: the Bonjour announcer, `gateway discover`, wide-area DNS-SD (cli.md §6).

txt.py        pure: who announces (plugin/env/container/mode rules), host label, instance
              name, the TXT record
beacons.py    pure: beacons found by a browse, \\DDD decoding, de-dup, sort, output shapes
wide_area.py  pure + one atomic file write: the BIND zone for unicast DNS-SD
unicast.py    sans-IO DNS messages (zeroconf's DNSOutgoing/DNSIncoming) for unicast DNS-SD
browse.py     trio: mDNS browse of local. (zeroconf, sync API in threads) + unicast queries
announcer.py  trio: the announcer service of the supervisor (register, goodbye)

zeroconf is only imported here (tests/test_layering.py), and always through its synchronous
API in worker threads; handlers hand results back to trio with trio.from_thread.
"""
