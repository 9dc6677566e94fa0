"""Frame capture: one ``FrameSource`` interface, its sources, and a self-healing supervisor.

The package imports nothing itself, so that reading a config (``edge.capture.config``) never
loads OpenCV. Typical use in the node::

    from edge.capture.factory import open_source
    from edge.capture.supervisor import ResilientSource

    source = ResilientSource(lambda: open_source(cfg.source, sleep=stop.wait),
                             wait=stop.wait, on_status=publish_status)
    for frame in source.frames():
        ...

Modules: ``base`` (``Frame``, ``FrameSource``, ``Pacer``), ``config`` (the source configs),
``factory`` (``open_source``), ``supervisor`` (``ResilientSource``), one module per source.
See ``docs/capture.md``.
"""
