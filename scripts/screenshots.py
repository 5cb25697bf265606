"""Screenshots of what a newcomer sees: ``python scripts/screenshots.py [--out DIR]``.

Runs a tiny glyphs run and a tiny two-job sweep, the sweep report, an export and a retrieval of a
few test glyphs, starts TensorBoard on the run and on the sweep, and takes headless-Chromium
screenshots of TensorBoard's tabs (time series, scalars, custom scalars, images, histograms, the
sweep's HPARAMS) and of ``report.png`` and the retrieval ``index.html``. Everything goes under
``--out`` (default ``outputs/screenshots/<time>``; git ignores ``outputs/``).

Needs Chromium (``apt-get install chromium`` on Debian; ``--chromium PATH`` otherwise). The
pictures are for a person to look at; nothing here checks them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: A few minutes on a 2-core CPU: short epochs, the dashboards on.
TINY = ["trainer.max_epochs=3", "trainer.limit_train_batches=30", "trainer.accelerator=cpu"]
TABS = ["timeseries", "scalars", "custom_scalars", "images", "histograms"]


def sh(*args: str, log: Path) -> None:
    """Run a command from the repository root; its output goes to ``log``; stop on failure."""
    print("$", " ".join(args), flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    with log.open("a") as f:
        done = subprocess.run(args, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, env=env)
    if done.returncode:
        sys.exit(f"error: `{' '.join(args)}` exited with {done.returncode}; see {log}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_tensorboard(logdir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """TensorBoard on ``logdir`` at a free local port, once it answers."""
    port = free_port()
    tensorboard = Path(sys.executable).with_name("tensorboard")
    command = [str(tensorboard), "--logdir", str(logdir), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--reload_interval", "0"]
    proc = subprocess.Popen(command, stdout=log.open("a"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    sys.exit(f"error: TensorBoard on {logdir} did not answer at {url}; see {log}")


def screenshot(chromium: str, url: str, png: Path, size: str = "1600,1100", wait_ms: int = 20000):
    """A headless-Chromium screenshot of ``url`` (``wait_ms`` of virtual time for its scripts)."""
    command = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    command += [f"--window-size={size}", f"--virtual-time-budget={wait_ms}"]
    command += [f"--screenshot={png}", url]
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=180)
    print(("wrote " if png.is_file() else "FAILED ") + str(png), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="default outputs/screenshots/<time>")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args()
    out = (args.out or ROOT / "outputs" / "screenshots" / time.strftime("%Y%m%d-%H%M%S")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    log = out / "commands.log"
    run, sweep, shots = out / "run", out / "sweep", out / "png"
    shots.mkdir(exist_ok=True)
    python = sys.executable

    sh(python, "train.py", *TINY, f"hydra.run.dir={run}", log=log)
    sh(
        python,
        "train.py",
        "-m",
        "loss=contrastive,circle",
        *TINY,
        f"hydra.sweep.dir={sweep}",
        log=log,
    )
    sh(python, "scripts/report.py", str(sweep), log=log)
    sh(python, "scripts/export.py", f"ckpt_path={run}", "onnx=false", "progress=false", log=log)
    queries = out / "queries"  # the first drawing of six test glyphs, in class folders
    for folder in sorted((run / "export" / "gallery").iterdir())[:6]:
        (queries / folder.name).mkdir(parents=True, exist_ok=True)
        first = sorted(folder.iterdir())[0]
        shutil.copy(first, queries / folder.name / first.name)
    sh(python, "scripts/retrieve.py", f"index={run / 'export'}", f"query={queries}", log=log)

    servers = []
    try:
        proc, url = start_tensorboard(run, log)
        servers.append(proc)
        time.sleep(3)
        for tab in TABS:
            screenshot(args.chromium, f"{url}/#{tab}", shots / f"tensorboard_{tab}.png")
        proc, url = start_tensorboard(sweep, log)
        servers.append(proc)
        time.sleep(3)
        screenshot(args.chromium, f"{url}/#hparams", shots / "tensorboard_sweep_hparams.png")
        screenshot(args.chromium, f"{url}/#timeseries", shots / "tensorboard_sweep_timeseries.png")
    finally:
        for proc in servers:
            proc.terminate()
    screenshot(args.chromium, (sweep / "report.png").as_uri(), shots / "report.png", "1500,700")
    page = run / "export" / "retrieval" / "index.html"
    screenshot(args.chromium, page.as_uri(), shots / "retrieval_html.png", "1200,1400")
    print(f"screenshots in {shots}")


if __name__ == "__main__":
    main()
