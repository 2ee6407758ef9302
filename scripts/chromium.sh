#!/usr/bin/env bash
# Install Debian's chromium for the lab's end-to-end browser tests. Idempotent: does
# nothing when a chromium binary is already on PATH. Waits for another apt/dpkg to
# release its lock instead of failing.
set -euo pipefail

for b in chromium chromium-browser; do
	if command -v "$b" >/dev/null 2>&1; then
		echo "chromium: $(command -v "$b") already installed"
		exit 0
	fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
		echo "chromium: not installed and not root; run: apt-get install -y chromium" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
# -o DPkg::Lock::Timeout waits for another apt instead of failing at once.
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null
echo "chromium: installed $(command -v chromium)"
