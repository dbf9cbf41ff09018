"""The bottom layer: errors, paths, atomic files, identity, board data, shared types, ELF
sizes, PlatformIO tooling and the Jinja environment. Imports nothing else of mcubench."""
