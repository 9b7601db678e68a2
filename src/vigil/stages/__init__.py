"""Pipeline stages beyond the engine's own (persist, health, record): detection, scaling."""
