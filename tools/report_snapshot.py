"""Look at an experiment report as a reader does: render it, check its figures, screenshot it.

    python tools/report_snapshot.py RUN_DIR [--png report.png] [--height 2000]

1. re-renders RUN_DIR/report.html (and report.md, figures/) from RUN_DIR/results.json;
2. checks every figure for legends that cover bars or curves (``recaug_app.plots.overlaps``);
3. screenshots report.html in headless Chromium (Debian's `chromium` package, or $CHROMIUM) at
   1400 px wide, into --png (default RUN_DIR/report.png): open it and look.

Exit status 1 when a legend covers data, 2 when Chromium is missing or fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--png", type=Path, default=None)
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=2000)
    args = parser.parse_args()

    from recaug_app.plots import build, overlaps
    from recaug_app.report import render
    from recaug_app.results import load_results

    results = load_results(args.run_dir)
    render(args.run_dir, results)
    problems = [f"{name}: {p}" for name, fig in build(results).items() for p in overlaps(fig)]
    for problem in problems:
        print(f"overlap: {problem}", file=sys.stderr)
    png = args.png or args.run_dir / "report.png"
    if not screenshot(args.run_dir / "report.html", png, args.width, args.height):
        return 2
    print(png)
    return 1 if problems else 0


def screenshot(page: Path, png: Path, width: int, height: int) -> bool:
    browser = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if browser is None:
        print("no chromium: `apt-get install chromium` or set $CHROMIUM", file=sys.stderr)
        return False
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                browser,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={png.resolve()}",
                f"--window-size={width},{height}",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    if done.returncode != 0 or not png.exists():
        print(f"chromium failed: {done.stderr.strip()[-500:]}", file=sys.stderr)
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
