"""The hub: MQTT ingest into SQLite and the proctors', deans', technicians' web pages.

``hub.config`` (TOML, validated), ``hub.store`` (all the SQL), ``hub.writer`` (the one writer
thread), ``hub.ingest`` (MQTT, no Flask), ``hub.bus`` (in-process events for live pages),
``hub.web`` (the blueprints; ``hub.web.app`` the Flask app factory), ``hub.server`` (one
process: web + ingest), ``hub.violation_protocol`` (the Appendix A form and its PDF),
``hub.retention_job`` (evidence deleted after its retention period).
See docs/hub.md and docs/data-model.md.
"""
