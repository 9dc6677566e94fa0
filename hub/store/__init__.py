"""All of the hub's SQL lives in this package (and nowhere else), one module per thing stored.

* ``db``: connections, ``transaction``, the hub's timestamps.
* ``migrations``: the versioned schema; ``open_database`` applies it.
* ``users``, ``audit``, ``rooms`` (seat maps), ``sessions`` (exams, rosters, seats, commands
  to the nodes), ``rounds`` (the dean's visits and screens).
* ``alerts`` (alerts and their evidence, the proctor's decisions), ``nodes`` (statuses,
  heartbeats, liveness), ``messages`` (ids seen, refused messages, counters): what ingest
  stores; ``changes``: what a write changed that live pages show.
* ``violation_protocols`` (Appendix A protocols), ``expiry`` (evidence past retention).
"""
