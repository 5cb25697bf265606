"""``scripts/serve.py`` through real HTTP on a real port: the server runs as a subprocess on a
free port of 127.0.0.1 (started and stopped here), serving an export of the tiny digits run."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from metriclab.commands import export
from metriclab.deployment.embedding import eval_transform
from metriclab.deployment.index import load_index, save_index
from metriclab.deployment.loading import load_torchscript
from metriclab.service.client import ServiceProcess
from metriclab.service.gallery import Gallery, GalleryError, decode
from metriclab.service.uploads import check_class_name

ROOT = Path(__file__).resolve().parents[2]
SERVE = ROOT / "scripts" / "serve.py"


def Server(folder: Path, log: Path, *extra: str) -> ServiceProcess:
    """``scripts/serve.py index=FOLDER`` on a free port, one torch thread."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return ServiceProcess(SERVE, folder, log, "threads=1", *extra, env=env)


@pytest.fixture(scope="module")
def bundle(digits_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("serve") / "export"
    options = {**export.OPTIONS, "ckpt_path": str(digits_run), "out": str(out)}
    options.update(progress=False, onnx=False)
    assert export.main([f"{k}={v}" for k, v in options.items() if v is not None]) == 0
    return out


@pytest.fixture(scope="module")
def server(bundle: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("served") / "export"
    shutil.copytree(bundle, folder)
    running = Server(folder, folder.parent / "serve.log")
    yield running
    running.kill(signal.SIGTERM)


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def gallery_image(folder: Path, row: int) -> bytes:
    _, meta = load_index(folder)
    return Path(meta.paths[row]).read_bytes()


def bundle_files(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


@pytest.mark.slow  # the server's start: a few seconds idle, about 40 s on a loaded 2-core machine
def test_search_answers_top_k_and_the_decision(server: ServiceProcess) -> None:
    _, meta = load_index(server.folder)
    status, answer = server.client.search([gallery_image(server.folder, 7)], k=3)
    assert status == 200, answer
    (result,) = answer["results"]
    first = result["matches"][0]
    assert len(result["matches"]) == 3 == answer["k"]
    assert first["id"] == 7 and first["path"] == meta.paths[7]
    assert first["class"] == meta.class_names[meta.labels[7]]
    assert first["similarity"] == pytest.approx(1.0, abs=1e-4)
    sims = [m["similarity"] for m in result["matches"]]
    assert sims == sorted(sims, reverse=True)
    decision = result["decision"]
    assert decision["class"] in meta.class_names and decision["accepted"] is True
    assert decision["threshold"] is None and decision["classifier"] == "knn"
    two = server.client.search([gallery_image(server.folder, r) for r in (1, 2)], k=2)[1]
    assert [r["matches"][0]["id"] for r in two["results"]] == [1, 2]


@pytest.mark.slow
def test_embed_is_bit_for_bit_the_exported_model(server: ServiceProcess) -> None:
    _, meta = load_index(server.folder)
    data = gallery_image(server.folder, 11)
    status, answer = server.client.embed([data])
    assert status == 200, answer
    got = np.asarray(answer["embeddings"], dtype=np.float32)
    model = load_torchscript(server.folder / meta.models["torchscript"])
    image = eval_transform(meta.transform)(decode(data, "L"))
    with torch.inference_mode():
        want = model(image[None]).numpy()
    assert got.shape == (1, meta.embedding_size)
    assert np.array_equal(got, want)  # float32 -> JSON -> float32 is exact


@pytest.mark.slow
def test_enrol_search_remove_and_the_page(server: ServiceProcess) -> None:
    c = server.client
    data = png(np.random.default_rng(1).integers(0, 255, (8, 8), dtype=np.uint8))
    status, added = c.enrol(data, "noise")
    assert status == 200, added
    assert added["class"] == "noise" and Path(added["path"]).read_bytes() == data
    found = c.search([data], k=1)[1]["results"][0]
    assert found["matches"][0]["id"] == added["id"]
    assert found["matches"][0]["class"] == "noise"
    assert c.request("GET", f"/items/{added['id']}/image") == (200, data)
    assert any(item["id"] == added["id"] for item in c.items()[1]["items"])
    assert c.remove(added["id"])[0] == 200
    again = c.search([data], k=3)[1]["results"][0]
    assert added["id"] not in [m["id"] for m in again["matches"]]
    assert c.remove(added["id"]) == (
        404,
        {"error": f"no item with id {added['id']} in the gallery"},
    )
    assert c.request("GET", f"/items/{added['id']}/image")[0] == 404
    assert not Path(added["path"]).exists()  # the image the service stored is gone with it
    status, page = c.request("GET", "/")
    assert status == 200 and b'fetch("/search"' in page and b"/items/${m.id}/image" in page
    status, health = c.request("GET", "/health")
    assert status == 200 and health["status"] == "ok" and health["items"] == 896


def truncated_png() -> bytes:
    data = png(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8))
    return data[: len(data) // 2]


def fifty_megapixels() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (10000, 5000)).save(buffer, format="PNG")  # 50 MP, about 60 kB compressed
    return buffer.getvalue()


BAD = {
    "not an image": ("/search", {}, [("image", "x.png", b"hello, not an image")], 422),
    "truncated": ("/search", {}, [("image", "t.png", truncated_png())], 422),
    "50 megapixels": ("/search", {}, [("image", "big.png", fifty_megapixels())], 413),
    "empty file": ("/search", {}, [("image", "e.png", b"")], 422),
    "no image field": ("/search", {"k": "3"}, [], 422),
    "k=0": ("/search", {"k": "0"}, [("image", "q.png", None)], 422),
    "k=10**6": ("/search", {"k": str(10**6)}, [("image", "q.png", None)], 422),
    "k not a number": ("/search", {"k": "five"}, [("image", "q.png", None)], 422),
    "class with a path": ("/items", {"class": "../../etc"}, [("image", "q.png", None)], 422),
    "class with a slash": ("/items", {"class": "a/b"}, [("image", "q.png", None)], 422),
    "no class": ("/items", {}, [("image", "q.png", None)], 422),
    "embed nothing": ("/embed", {}, [], 422),
}


@pytest.mark.slow
def test_bad_input_is_a_4xx_json_line_and_nothing_changes(server: ServiceProcess) -> None:
    c, good = server.client, gallery_image(server.folder, 3)
    before = bundle_files(server.folder)
    for name, (path, fields, files, want) in BAD.items():
        files = [(f, n, good if d is None else d) for f, n, d in files]
        status, answer = c.form(path, fields, files)
        assert status == want, (name, answer)
        assert set(answer) == {"error"} and "\n" not in answer["error"], (name, answer)
    raw = [
        ("POST", "/search", b'{"image": 1}', {"Content-Type": "application/json"}, 415),
        ("POST", "/search", b"", {}, 415),  # an empty body, no content type
        ("POST", "/search", b"", {"Content-Type": "multipart/form-data; boundary=x"}, 422),
        ("POST", "/search", b"--x\r\ngarbage", {"Content-Type": "multipart/form-data"}, 400),
        ("DELETE", "/items/123456", None, {}, 404),
        ("DELETE", "/items/abc", None, {}, 404),
        ("GET", "/items/99999/image", None, {}, 404),
        ("GET", "/nowhere", None, {}, 404),
    ]
    for method, path, body, headers, want in raw:
        status, answer = c.request(method, path, body, headers)
        assert status == want and set(answer) == {"error"}, (method, path, body, answer)
    assert c.request("GET", "/health")[0] == 200  # still up
    assert bundle_files(server.folder) == before  # nothing written


@pytest.mark.slow
def test_reload_swaps_the_export(server: ServiceProcess, tmp_path: Path) -> None:
    c = server.client
    other = tmp_path / "other"
    shutil.copytree(server.folder, other)
    status, answer = c.reload(str(other))
    assert status == 200 and answer["index"] == str(other.resolve()), answer
    assert c.request("GET", "/health")[1]["index"] == str(other.resolve())
    status, refused = c.reload(str(tmp_path))  # not an export: refused, the old one stays
    assert status == 422 and "no export there" in refused["error"]
    assert c.reload(str(server.folder))[0] == 200
    assert (
        c.search([gallery_image(server.folder, 5)], k=1)[1]["results"][0]["matches"][0]["id"] == 5
    )


@pytest.mark.slow
def test_kill_9_and_restart_serve_exactly_the_acknowledged_items(
    bundle: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "export"
    shutil.copytree(bundle, folder)
    first = Server(folder, tmp_path / "first.log")
    rng = np.random.default_rng(2)
    added = [
        first.client.enrol(png(rng.integers(0, 255, (8, 8), dtype=np.uint8)), "new")[1]["id"]
        for _ in range(3)
    ]
    assert first.client.remove(added[1])[0] == 200
    assert first.client.remove(0)[0] == 200  # an exported row too
    status, last = first.client.enrol(png(rng.integers(0, 255, (8, 8), dtype=np.uint8)), "new")
    assert status == 200  # the last edit before the crash: an enrolment
    first.kill(signal.SIGKILL)
    second = Server(folder, tmp_path / "second.log")
    try:
        ids = {item["id"] for item in second.client.items()[1]["items"]}
        assert ids == (set(range(896)) - {0}) | {added[0], added[2], last["id"]}
        assert second.client.request("GET", f"/items/{added[2]}/image")[0] == 200
    finally:
        second.kill(signal.SIGTERM)


def test_a_mistaken_setting_is_one_line_and_status_2(tmp_path: Path) -> None:
    for argv, says in [
        (["index=X", "prot=8000"], "prot: no such setting of serve.py"),
        ([f"index={tmp_path}"], "no export there"),
        ([f"index={tmp_path}", "port=80"], None),
    ]:
        done = subprocess.run(
            [sys.executable, str(SERVE), *argv], capture_output=True, text=True, cwd=ROOT
        )
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), done
        assert says is None or says in lines[0]


def test_class_names_with_path_characters_are_refused() -> None:
    for name in ("ok", "Black-footed Albatross", "9", "a.b"):
        assert check_class_name(name) == name
    for name in ("", "../x", "a/b", "a\\b", ".hidden", "a\x00b", "x" * 101):
        with pytest.raises(GalleryError):
            check_class_name(name)


KINDS = {
    "hnsw int8": {"dims": 16, "code": "int8", "index": "hnsw", "params": {"M": 8, "efSearch": 64}},
    "ivf int8": {"dims": 8, "code": "int8", "index": "ivf", "params": {"nlist": 4, "nprobe": 4}},
    "binary+rescore": {
        "dims": 16,
        "code": "binary+rescore",
        "index": "flat",
        "params": {"rescore": 10},
    },
    "flat fp16": {"dims": 16, "code": "fp16", "index": "flat", "params": {}},
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_index_kind_enrols_removes_and_reopens(
    bundle: Path, tmp_path: Path, kind: str
) -> None:
    """In process (the same Gallery the worker holds): tombstones, rebuild, reopening."""
    index, meta = load_index(bundle)
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(bundle / "embedder.pt", folder)
    meta.index, meta.paths, meta.labels = KINDS[kind], meta.paths[:100], meta.labels[:100]
    save_index(folder, index.reconstruct_n(0, 100), meta)  # 100 rows of the export
    g = Gallery(folder)
    data = png(np.random.default_rng(3).integers(0, 255, (8, 8), dtype=np.uint8))
    added = g.add(data, ".png", "noise")
    x = g.embed(g.tensors([data]))
    assert added["id"] in [m["id"] for m in g.answers(x, 10)[0]["matches"]]  # approximate
    removed = [g.remove(i) for i in range(30)]  # 101 // 4 = 25 tombstones: a rebuild
    assert removed[0]["removed"] == "tombstoned" and "rebuilt" in removed[24]["removed"]
    assert removed[25]["removed"] == "tombstoned"
    assert g.remove(added["id"])["items"] == 100 - 30
    with pytest.raises(GalleryError):
        g.remove(3)
    reopened = Gallery(folder)
    assert reopened.size == 100 - 30 and len(reopened.items.dead) == 6
    live = {reopened.items.ids[r] for r in range(reopened.index.ntotal)} - {
        reopened.items.ids[r] for r in reopened.items.dead
    }
    assert live == set(range(30, 100))
    reopened.remove(50)
    with pytest.raises(GalleryError, match="changed on disk"):
        g.remove(40)  # `reopened` wrote the folder since `g` loaded it: g must not overwrite it
    hits = reopened.answers(reopened.embed(reopened.tensors([data])), 5)[0]["matches"]
    assert added["id"] not in [m["id"] for m in hits]
    assert json.loads((folder / "items.json").read_text())["next_id"] == 101


CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.mark.slow
@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="no chromium + chromedriver (apt-get install chromium chromium-driver; .ci/run does)",
)
def test_the_page_in_a_real_browser(server: ServiceProcess, tmp_path: Path) -> None:
    """Headless Chromium loads the page, picks a gallery image, and shows 5 thumbnails with
    their class and similarity and the decision. ``METRICLAB_SCREENSHOT=FILE`` keeps a picture
    of the result (docs/images/serving_page.png is one)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=900,820",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    browser = webdriver.Chrome(options=options, service=service)
    try:
        browser.get(f"http://127.0.0.1:{server.port}/")
        wait = WebDriverWait(browser, 60)
        wait.until(lambda b: "gallery items" in b.find_element(By.ID, "status").text)
        _, meta = load_index(server.folder)
        browser.find_element(By.ID, "file").send_keys(meta.paths[7])  # a gallery image
        wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#results .match")) == 5)
        cards = browser.find_elements(By.CSS_SELECTOR, "#results .match")
        decision = browser.find_element(By.ID, "decision")
        assert decision.get_attribute("class") == "accepted"
        assert "confidence" in decision.text and "threshold none" in decision.text
        first_class = meta.class_names[meta.labels[7]]
        assert cards[0].text == f"{first_class} · 1.000 · #7"  # itself, first
        wait.until(
            lambda b: b.execute_script(
                "return [...document.querySelectorAll('#results img')]"
                ".every(i => i.complete && i.naturalWidth > 0)"
            )
        )
        if os.environ.get("METRICLAB_SCREENSHOT"):
            browser.save_screenshot(os.environ["METRICLAB_SCREENSHOT"])
    finally:
        browser.quit()


def test_a_crash_at_any_step_of_a_commit_reopens_old_or_new_never_a_mix(tmp_path: Path) -> None:
    """The redo log of ``store.commit``: killed before the commit point -> the old files; after
    it (some renames done, some not) -> the new files, once ``recover`` has run."""
    from metriclab.service import store

    def write(text: str):
        return lambda path: path.write_text(text)

    names = ["a.json", "b.json", "c.json"]
    for name in names:
        (tmp_path / name).write_text("old")
    # before the commit point: temporary files written, no log
    for name in names[:2]:
        (tmp_path / f"{name}{store.TMP}").write_text("new")
    store.recover(tmp_path)
    assert [(tmp_path / n).read_text() for n in names] == ["old"] * 3
    assert not list(tmp_path.glob(f"*{store.TMP}"))
    # after the commit point: the log renamed in, one file moved, the process killed
    for name in names:
        (tmp_path / f"{name}{store.TMP}").write_text("new")
    (tmp_path / store.LOG).write_text(json.dumps(names))
    os.replace(tmp_path / f"a.json{store.TMP}", tmp_path / "a.json")
    store.recover(tmp_path)
    assert [(tmp_path / n).read_text() for n in names] == ["new"] * 3
    assert not (tmp_path / store.LOG).exists()
    # a whole commit, and a writer that fails: nothing of it is left
    store.commit(tmp_path, {n: write("newer") for n in names})
    assert [(tmp_path / n).read_text() for n in names] == ["newer"] * 3

    def broken(path: Path) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError):
        store.commit(tmp_path, {"a.json": write("x"), "b.json": broken})
    assert [(tmp_path / n).read_text() for n in names] == ["newer"] * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == names
