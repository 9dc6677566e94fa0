"""Test doubles for hardware that cannot run here (siblings of the real backends, not patches)."""
