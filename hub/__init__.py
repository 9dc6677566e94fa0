"""The hub: MQTT ingest into SQLite and the proctors', deans', technicians' web pages.

``hub.config`` (TOML, validated), ``hub.store`` (all the SQL), ``hub.writer`` (the one writer
thread), ``hub.ingest`` (MQTT, no Flask), ``hub.bus`` (in-process events for live pages),
``hub.web`` (the Flask app factory and blueprints), ``hub.server`` (one process: web + ingest).
See docs/hub.md and docs/data-model.md.
"""
