"""The bench stages: render → build → fit → run → collect → result (docs/architecture.md)."""
