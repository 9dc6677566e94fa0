"""The hub's web pages: the Flask app factory (``hub.web.app.create_app``) and one blueprint
per audience: ``auth`` (login, language), ``proctor``, ``dean``, ``technician``, ``admin``,
``live`` (evidence, the SSE stream and the feed JSON for proctors and deans), ``sessions``
(exams), ``violation_protocols`` (Appendix A), ``rounds`` (the dean's visits), ``public``
(the students' page) and ``enrolment`` (a Pi fetching its bundle)."""
