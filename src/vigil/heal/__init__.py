"""Self-healing: runbooks turned into guarded, verified, persisted actions (docs/healing.md)."""
