"""cyclopts commands. Each parses, calls into the package, and renders; no gateway logic here."""
