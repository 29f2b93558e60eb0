"""Make sure the browser tests have their browser: Chromium from the Debian package.

    python devstack/browser.py      (make browser; make test runs it first)

The browser tests drive `PUMPURS_CHROMIUM` or /usr/bin/chromium through Playwright; `playwright install`
(which downloads a browser build of its own) is never run. When Chromium is missing it is installed with
apt-get as root; otherwise this stops with the exact command. With CI=true a missing browser fails the
run: the browser tests are never skipped silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

COMMAND = "apt-get update && apt-get install -y chromium"


def executable() -> str:
    return os.environ.get("PUMPURS_CHROMIUM") or "/usr/bin/chromium"


def main() -> int:
    path = executable()
    if os.path.exists(path) and os.access(path, os.X_OK):
        return 0
    if os.environ.get("PUMPURS_CHROMIUM"):
        print(f"PUMPURS_CHROMIUM={path} is not an executable browser", file=sys.stderr)
        return 1
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"Chromium is missing: {COMMAND}", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], check=False, env=env)
        done = subprocess.run(["apt-get", "install", "-y", "chromium"], check=False, env=env)
        if done.returncode == 0 and os.access(path, os.X_OK):
            return 0
    print(
        f"The browser tests need Chromium at {path}. Install it with:\n  sudo sh -c '{COMMAND}'\n"
        "or point PUMPURS_CHROMIUM at a Chromium binary.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
