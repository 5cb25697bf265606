"""The HTTP service on LitServe: routes on its FastAPI app, the model and index in its worker.

LitServe runs :class:`GalleryAPI` in an inference worker process and batches what reaches it:
up to ``max_batch_size`` requests that arrive within ``batch_timeout`` seconds go through
:meth:`GalleryAPI.predict` together (one model forward over every image of every search and embed
request, one index search). LitServe's own ``/predict``-style route takes JSON only, so the
public routes are ours, on LitServer's FastAPI app: each parses its multipart form and checks the
images (:mod:`~metriclab.service.uploads`) in the HTTP process, then submits a small
``{"op": ...}`` payload to the worker through LitServe's request handler (the queue, the batching
loop and the response buffer are LitServe's). A bad request is refused before it can join a
batch, so one client's broken file never fails another's search.

Consistency: edits (``POST /items``, ``DELETE /items/{id}``, ``POST /reload``) are serialised by
one lock in the HTTP process; each bumps a generation counter that every later payload carries,
and a worker whose gallery is older reloads the bundle from disk before answering (with
``workers=1``, the default, it never has to). The worker answers one batch at a time, so a
reload swaps the gallery between batches: requests in flight are answered in full by the old
gallery or the new one, never fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import litserve as ls
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from metriclab.errors import ConfigError
from metriclab.service.gallery import Gallery, GalleryError
from metriclab.service.page import PAGE
from metriclab.service.uploads import Limits, check_class_name, check_image, check_k

BATCH_PATH = "/_batch"  # the worker's route inside LitServe; removed from the public app
READS = ("search", "embed")


class GalleryAPI(ls.LitAPI):
    """The worker side: a :class:`Gallery` answering batches of ``{"op": ...}`` payloads."""

    def __init__(self, folder: str, max_batch_size: int, batch_timeout: float, threads: int = 0):
        super().__init__(
            max_batch_size=max_batch_size, batch_timeout=batch_timeout, api_path=BATCH_PATH
        )
        self.folder, self.threads = folder, threads

    def setup(self, device: str) -> None:
        import torch

        if self.threads:
            torch.set_num_threads(self.threads)
        self.gallery = Gallery(Path(self.folder))

    def decode_request(self, request: dict) -> dict:
        return request

    def batch(self, inputs: list[dict]) -> list[dict]:
        return inputs

    def unbatch(self, output: list[dict]) -> list[dict]:
        return output

    def encode_response(self, output: dict) -> dict:
        return output

    def predict(self, payloads: list[dict] | dict) -> list[dict] | dict:
        """Answer each payload: edits in order, then every read in one forward + one search."""
        single = isinstance(payloads, dict)
        payloads = [payloads] if single else payloads
        answers: list[dict | None] = [None] * len(payloads)
        self._catch_up(payloads)
        for i, p in enumerate(payloads):
            if p["op"] not in READS:
                answers[i] = self._guarded(self._edit, p)
        reads = [i for i, p in enumerate(payloads) if p["op"] in READS]
        if reads:
            for i, answer in zip(reads, self._reads([payloads[i] for i in reads]), strict=True):
                answers[i] = answer
        return answers[0] if single else answers

    def _catch_up(self, payloads: list[dict]) -> None:
        newest = max(payloads, key=lambda p: p["generation"])
        if newest["generation"] > self.gallery.generation:  # another worker edited the bundle
            self.gallery = Gallery(Path(newest["folder"]), newest["generation"])

    @staticmethod
    def _guarded(action, *args) -> dict:
        try:
            return action(*args)
        except GalleryError as exc:
            return {"status": exc.status, "error": str(exc)}
        except ConfigError as exc:
            return {"status": 422, "error": str(exc)}

    def _edit(self, p: dict) -> dict:
        g = self.gallery
        if p["op"] == "health":
            return g.info()
        if p["op"] == "path":
            row = g.row_of(p["id"])
            return {"path": g.meta.paths[row], "class": g.meta.class_names[g.meta.labels[row]]}
        if p["op"] == "list":
            dead = set(g.items.dead)
            names = g.meta.class_names
            return {
                "items": [
                    {"id": i, "class": names[y] if y >= 0 else "unknown", "path": path}
                    for r, (i, y, path) in enumerate(
                        zip(g.items.ids, g.meta.labels, g.meta.paths, strict=True)
                    )
                    if r not in dead
                ]
            }
        if p["op"] == "reload":
            self.gallery = Gallery(Path(p["target"]), p["generation"] + 1)
            return {"reloaded": str(self.gallery.folder), **self.gallery.info()}
        answer = g.add(*p["image"], p["class"]) if p["op"] == "add" else g.remove(p["id"])
        g.generation = p["generation"] + 1
        return answer

    def _reads(self, payloads: list[dict]) -> list[dict]:
        g = self.gallery
        try:
            batch = g.tensors([data for p in payloads for data in p["images"]])
            embeddings = g.embed(batch)
            k = max((p["k"] for p in payloads if p["op"] == "search"), default=0)
            found = g.answers(embeddings, k) if k else []
        except Exception as exc:  # e.g. an image the HTTP side accepted but the model cannot take
            line = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            return [{"status": 422, "error": f"the model cannot embed this input: {line}"}] * len(
                payloads
            )
        out, start = [], 0
        for p in payloads:
            end = start + len(p["images"])
            if p["op"] == "embed":
                out.append({"embeddings": embeddings[start:end].tolist()})
            else:
                results = [
                    {"matches": f["matches"][: p["k"]], "decision": f["decision"]}
                    for f in found[start:end]
                ]
                out.append({"results": results, "k": min(p["k"], g.size)})
            start = end
        return out


class Routes:
    """The HTTP side: the public routes, submitting payloads to the worker via LitServe."""

    def __init__(self, server: ls.LitServer, api: GalleryAPI, limits: Limits) -> None:
        from litserve.server import RegularRequestHandler

        self.handler = RegularRequestHandler(api, server)
        self.limits = limits
        self.folder = str(Path(api.folder).expanduser().resolve())
        self.generation = 0
        self._edit_lock = None

    async def submit(self, payload: dict) -> dict:
        payload = {**payload, "generation": self.generation, "folder": self.folder}
        answer = await self.handler.handle_request(payload, dict)
        if "error" in answer:
            raise GalleryError(answer["status"], answer["error"])
        return answer

    async def edit(self, payload: dict) -> dict:
        import asyncio

        if self._edit_lock is None:
            self._edit_lock = asyncio.Lock()
        async with self._edit_lock:
            answer = await self.submit(payload)
            self.generation += 1
            if payload["op"] == "reload":
                self.folder = answer["reloaded"]
            return answer

    async def form(self, request: Request):
        kind = request.headers.get("content-type", "")
        if not kind.startswith("multipart/form-data"):
            raise GalleryError(
                415,
                f"expected a multipart/form-data body, got {kind or 'no content type'!r}; "
                "send files as form fields, e.g. curl -F image=@photo.jpg",
            )
        length = request.headers.get("content-length")
        if length is None:
            raise GalleryError(411, "no Content-Length header; send the body with its length")
        if int(length) > self.limits.max_upload_bytes:
            raise GalleryError(
                413,
                f"the body is {int(length) / 2**20:.1f} MiB, over the limit of "
                f"{self.limits.max_upload_bytes / 2**20:g} MiB",
            )
        try:
            return await request.form(max_files=self.limits.max_images, max_fields=100)
        except Exception as exc:
            line = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
            raise GalleryError(400, f"the multipart body cannot be parsed ({line})") from None

    async def images(self, form, at_most: int | None = None) -> list[tuple[bytes, str]]:
        files = [f for f in form.getlist("image") if not isinstance(f, str)]
        if not files:
            raise GalleryError(422, "no image; send the image file in the form field 'image'")
        limit = at_most or self.limits.max_images
        if len(files) > limit:
            raise GalleryError(413, f"{len(files)} images in one request; send at most {limit}")
        out = []
        for f in files:
            data = await f.read()
            suffix = await run_in_threadpool(check_image, data, f.filename or "", self.limits)
            out.append((data, suffix))
        return out


def item_id(text: str) -> int:
    """A path's ``{id}`` as an int (404 when it is not one)."""
    try:
        return int(text)
    except ValueError:
        raise GalleryError(404, f"no item with id {text[:40]!r}; ids are integers") from None


def build_server(
    folder: str,
    max_batch_size: int = 8,
    batch_timeout: float = 0.001,
    workers: int = 1,
    threads: int = 0,
    limits: Limits | None = None,
    timeout: float = 60.0,
) -> ls.LitServer:
    """The LitServer serving ``folder`` (an export), with every route of the module docstring
    (the caller loads the bundle once first, so that a bad one is refused in one line)."""
    folder = str(Path(folder).expanduser().resolve())
    api = GalleryAPI(folder, max_batch_size, batch_timeout, threads)
    server = ls.LitServer(
        api,
        accelerator="cpu",
        workers_per_device=workers,
        timeout=timeout,
        healthcheck_path="/litserve/health",
        info_path="/litserve/info",
    )
    app = server.app
    app.router.routes[:] = [
        r for r in app.router.routes if getattr(r, "path", None) not in ("/", BATCH_PATH)
    ]
    routes = Routes(server, api, limits or Limits())
    add_routes(app, routes)
    return server


def add_routes(app, routes: Routes) -> None:
    """The public routes and the JSON error answers."""

    @app.exception_handler(GalleryError)
    async def refused(request: Request, exc: GalleryError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "invalid request: " + str(exc.errors())[:200]}, 422)

    @app.get("/")
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE)

    @app.get("/health")
    async def health() -> dict:
        return await routes.submit({"op": "health"})

    @app.post("/search")
    async def search(request: Request) -> dict:
        form = await routes.form(request)
        k = check_k(form.get("k"), routes.limits)
        images = await routes.images(form)
        return await routes.submit({"op": "search", "images": [d for d, _ in images], "k": k})

    @app.post("/embed")
    async def embed(request: Request) -> dict:
        form = await routes.form(request)
        images = await routes.images(form)
        return await routes.submit({"op": "embed", "images": [d for d, _ in images]})

    @app.get("/items")
    async def items() -> dict:
        return await routes.submit({"op": "list"})

    @app.post("/items")
    async def enrol(request: Request) -> dict:
        form = await routes.form(request)
        name = check_class_name(form.get("class"))
        (image,) = await routes.images(form, at_most=1)
        return await routes.edit({"op": "add", "image": image, "class": name})

    @app.delete("/items/{ident}")
    async def remove(ident: str) -> dict:
        return await routes.edit({"op": "remove", "id": item_id(ident)})

    @app.get("/items/{ident}/image")
    async def image(ident: str) -> FileResponse:
        found = await routes.submit({"op": "path", "id": item_id(ident)})
        if not os.path.isfile(found["path"]):
            raise GalleryError(404, f"item {ident}'s image {found['path']} is gone from disk")
        return FileResponse(found["path"])

    @app.post("/reload")
    async def reload(request: Request) -> dict:
        target = routes.folder
        if request.headers.get("content-length", "0") != "0":
            form = await routes.form(request)
            target = str(form.get("index") or routes.folder)
        path = Path(target).expanduser().resolve()
        if not (path / "index.json").is_file():
            raise GalleryError(
                422, f"index={target}: no export there (index.json); pass an export folder"
            )
        return await routes.edit({"op": "reload", "target": str(path)})
