"""A small standard-library client of the service (for tests, the load test and scripts).

``Client("127.0.0.1", 8000).search([png_bytes], k=5)`` -> ``(status, answer dict)``. One
keep-alive HTTP connection per client (so one per thread). :class:`ServiceProcess` starts
``scripts/serve.py`` on a free port of 127.0.0.1 and stops it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """``(body, content type)`` of a ``multipart/form-data`` form: text ``fields`` and
    ``files`` as ``(field, file name, bytes)``."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(f"{head}{value}\r\n".encode())
    for field, filename, data in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Client:
    """Requests to one service (``host``, ``port``), answers as ``(status, JSON or bytes)``."""

    def __init__(self, host: str, port: int, timeout: float = 60.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.connection: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, Any]:
        """One request; reconnects once if the kept-alive connection was closed."""
        for attempt in (0, 1):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, self.timeout)
            try:
                self.connection.request(method, path, body=body, headers=headers or {})
                response = self.connection.getresponse()
                data = response.read()
                break
            except (ConnectionError, http.client.HTTPException):
                self.connection.close()
                self.connection = None
                if attempt:
                    raise
        kind = response.getheader("content-type", "")
        return response.status, json.loads(data) if kind.startswith("application/json") else data

    def form(
        self, path: str, fields: dict[str, str], files: list[tuple[str, str, bytes]]
    ) -> tuple[int, Any]:
        """POST a multipart form."""
        body, kind = multipart(fields, files)
        return self.request("POST", path, body, {"Content-Type": kind})

    def search(self, images: list[bytes], k: int = 5) -> tuple[int, Any]:
        files = [("image", f"q{i}.png", data) for i, data in enumerate(images)]
        return self.form("/search", {"k": str(k)}, files)

    def embed(self, images: list[bytes]) -> tuple[int, Any]:
        return self.form("/embed", {}, [("image", f"q{i}.png", d) for i, d in enumerate(images)])

    def enrol(self, image: bytes, class_name: str) -> tuple[int, Any]:
        return self.form("/items", {"class": class_name}, [("image", "new.png", image)])

    def remove(self, item_id: int) -> tuple[int, Any]:
        return self.request("DELETE", f"/items/{item_id}")

    def reload(self, index: str | None = None) -> tuple[int, Any]:
        if index is None:
            return self.request("POST", "/reload", b"", {"Content-Length": "0"})
        return self.form("/reload", {"index": index}, [])

    def items(self) -> tuple[int, Any]:
        return self.request("GET", "/items")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def free_port() -> int:
    """A TCP port of 127.0.0.1 free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceProcess:
    """``python SCRIPT index=FOLDER port=FREE [extra ...]`` (``scripts/serve.py``) in its own
    process group (LitServe's worker and queue manager with it), ready when ``/health`` answers
    200; :meth:`kill` signals the whole group (``SIGKILL``: a crash, nothing cleaned up)."""

    def __init__(
        self,
        script: Path,
        folder: Path,
        log: Path,
        *extra: str,
        wait_s: float = 300,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port, self.folder, self.log = free_port(), Path(folder), Path(log)
        command = [sys.executable, str(script), f"index={folder}", f"port={self.port}", *extra]
        with open(log, "w") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env
            )
        self.client = Client("127.0.0.1", self.port, timeout=60)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{script.name} exited: {self.log.read_text()[-2000:]}")
            try:
                if self.client.request("GET", "/health")[0] == 200:
                    return
            except OSError:
                self.client.close()
            time.sleep(0.5)
        self.kill()
        raise RuntimeError(f"{script.name} did not answer /health: {self.log.read_text()[-2000:]}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the server's process group and wait for the server to exit."""
        self.client.close()
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=60)
        if sig != signal.SIGKILL:  # what a graceful stop left running
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
