"""The Omniglot open-set folders of docs/classification.md, by drawer:

    python scripts/benchmarks/omniglot_folders.py OMNIGLOT_ROOT OUT
    (e.g. /tmp/omniglot/omniglot /tmp/og)

From ``OMNIGLOT_ROOT/images_evaluation/<character>/<character>_<drawer>.png`` (the 659 characters
in sorted order, which groups them by alphabet):

- ``OUT/gallery``: drawers 01-05 of the first 330 characters (1,650 images, enrolled);
- ``OUT/calib``: drawers 06-12 of those, plus drawers 06-20 of the next 164 characters as
  strangers (4,770 images);
- ``OUT/queries``: drawers 13-20 of the 330, plus drawers 06-20 of the last 165 characters as
  strangers (5,115 images).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

KNOWN, CALIB_STRANGERS = 330, 164


def copy(characters: list[Path], out: Path, drawers: range) -> int:
    """Copy drawers ``drawers`` of each character into ``out/<character>/``; the count."""
    n = 0
    for character in characters:
        (out / character.name).mkdir(parents=True, exist_ok=True)
        for d in drawers:
            shutil.copy(character / f"{character.name}_{d:02d}.png", out / character.name)
            n += 1
    return n


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 2
    root, out = Path(argv[0]) / "images_evaluation", Path(argv[1])
    characters = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if len(characters) != 659:
        print(
            f"error: {root} holds {len(characters)} characters, not Omniglot's 659", file=sys.stderr
        )
        return 2
    known = characters[:KNOWN]
    strangers = characters[KNOWN : KNOWN + CALIB_STRANGERS], characters[KNOWN + CALIB_STRANGERS :]
    counts = {
        "gallery": copy(known, out / "gallery", range(1, 6)),
        "calib": copy(known, out / "calib", range(6, 13))
        + copy(strangers[0], out / "calib", range(6, 21)),
        "queries": copy(known, out / "queries", range(13, 21))
        + copy(strangers[1], out / "queries", range(6, 21)),
    }
    print(", ".join(f"{out / k}: {v} images" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
