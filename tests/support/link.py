"""A network link between two brokers that a test can cut while both keep running: a TCP
forwarder on a loopback port. ``cut()`` closes every connection through it and stops
listening, so that reconnecting is refused (as the campus host's firewall or a router that
answers for a dead route would: the bridge's connection drops and each new one is refused);
``cut(accept=True)`` instead accepts each new connection and closes it at once (a load
balancer with no healthy broker behind it); ``restore()`` lets connections through again."""

from __future__ import annotations

import socket
import threading

from kuzet_tools.broker import free_port


class Link:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._up = True
        self.connections = 0          # connections let through, reconnects included
        self.refused = 0              # accepted and closed while cut with accept=True
        self._stop = False
        self._listen()

    def _listen(self) -> None:
        self._server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self._server,), daemon=True,
                         name="link-accept").start()

    def _accept(self, server: socket.socket) -> None:
        while not self._stop:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with self._lock:
                up = self._up
            if not up:
                conn.close()
                with self._lock:
                    self.refused += 1
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                conn.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._socks += [conn, upstream]
                self.connections += 1
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self, accept: bool = False) -> None:
        with self._lock:
            self._up = False
            socks, self._socks = self._socks, []
        if not accept:                    # connecting is refused (RST)
            try:
                self._server.shutdown(socket.SHUT_RDWR)    # wakes the accepting thread
            except OSError:
                pass
            self._server.close()
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def restore(self) -> None:
        with self._lock:
            self._up = True
        if self._server.fileno() == -1:
            self._listen()

    def close(self) -> None:
        self._stop = True
        self.cut()
        self._server.close()
