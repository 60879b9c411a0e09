"""The ground floor: errors, paths, config, logs, atomic files, address facts (netaddr).

Every folder may import core; core imports none of them, and never trio or sockets.
"""
