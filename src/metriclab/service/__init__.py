"""The HTTP service (``python scripts/serve.py index=RUN/export``): an export bundle served,
searched and edited over HTTP, and a client of it. Everything else it uses (loading the exported
embedder, the index kinds, the bundle's centroids) comes from :mod:`metriclab.deployment`.

- :mod:`~metriclab.service.api`: the LitServe server, its routes and the batched worker;
- :mod:`~metriclab.service.gallery`: the served gallery (search, embed, enrol, remove);
- :mod:`~metriclab.service.store`: the bundle on disk, edited atomically;
- :mod:`~metriclab.service.uploads`: what a request may hold (images, ``k``, classes);
- :mod:`~metriclab.service.page`: the page at ``GET /``;
- :mod:`~metriclab.service.client`: a standard-library client and a server process runner (the
  tests and ``scripts/benchmarks/serve.py``).

:func:`serve` checks the settings (``configs/serve.yaml``), prints where it serves and runs the
server until it is stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from metriclab.errors import ConfigError

HOSTS = ("127.0.0.1", "0.0.0.0", "::")


def checked(options: dict[str, Any]) -> dict[str, Any]:
    """The settings of ``configs/serve.yaml``, refused with one line when out of range."""
    if not options.get("index"):
        raise ConfigError("no index given; pass index=RUN_DIR/export (a scripts/export.py folder)")
    if not (Path(str(options["index"])).expanduser() / "index.json").is_file():
        raise ConfigError(
            f"index={options['index']}: no export there (index.json); build one with "
            "python scripts/export.py ckpt_path=RUN_DIR/checkpoints/best.ckpt"
        )
    if str(options["host"]) not in HOSTS:
        raise ConfigError(f"host={options['host']}: use one of {', '.join(HOSTS)}")
    rules = {
        "port": (1024, 65535),
        "k": (1, int(options["max_k"])),
        "max_k": (1, 10_000),
        "max_batch_size": (1, 1024),
        "workers": (1, 64),
        "threads": (0, 256),
        "max_images": (1, 1024),
        "max_pixels": (1, 10**9),
    }
    for key, (low, high) in rules.items():
        value = options[key]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ConfigError(f"{key}={value}: expected an integer {low}..{high}")
    for key in ("batch_timeout", "max_upload_mb", "timeout"):
        value = options[key]
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{key}={value}: expected a number >= 0")
    if not options["batch_timeout"] < options["timeout"]:
        raise ConfigError(
            f"batch_timeout={options['batch_timeout']} must be below timeout={options['timeout']}"
        )
    return options


def serve(options: dict[str, Any]) -> None:
    """Build the server of ``options`` (``configs/serve.yaml``'s keys) and run it."""
    options = checked(options)  # before the heavy imports: a mistake is refused at once
    from metriclab.service.api import build_server
    from metriclab.service.gallery import Gallery
    from metriclab.service.uploads import Limits

    limits = Limits(
        max_pixels=int(options["max_pixels"]),
        max_upload_bytes=int(float(options["max_upload_mb"]) * 2**20),
        max_images=int(options["max_images"]),
        max_k=int(options["max_k"]),
        default_k=int(options["k"]),
    )
    gallery = Gallery(Path(str(options["index"])))  # a bad bundle: one line, before any worker
    server = build_server(
        str(gallery.folder),
        max_batch_size=int(options["max_batch_size"]),
        batch_timeout=float(options["batch_timeout"]),
        workers=int(options["workers"]),
        threads=int(options["threads"]),
        limits=limits,
        timeout=float(options["timeout"]),
    )
    host, port = str(options["host"]), int(options["port"])
    print(
        f"serving {gallery.folder} ({gallery.size} items, {len(gallery.meta.class_names)} "
        f"classes, {gallery.kind} index) on http://{host}:{port}/ (max_batch_size="
        f"{options['max_batch_size']}, batch_timeout={options['batch_timeout']}); Ctrl+C stops",
        flush=True,
    )
    del gallery
    server.run(
        host=host,
        port=port,
        num_api_servers=1,
        api_server_worker_type="thread",
        generate_client_file=False,
        log_level=str(options["log_level"]),
    )
