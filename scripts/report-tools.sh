#!/usr/bin/env bash
# Install what the credit report tests use: Debian's fonts-droid-fallback (the CJK TrueType
# font the PDF renderer embeds, Apache 2.0) and poppler-utils (pdftoppm and pdftotext, which
# the tests use to check a rendered report). Idempotent: does nothing when both are present.
# Waits for another apt/dpkg to release its lock instead of failing.
set -euo pipefail

FONT=/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf
if [ -f "$FONT" ] && command -v pdftoppm >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1; then
	echo "report tools: $FONT and $(command -v pdftoppm) already installed"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
		echo "report tools: not installed and not root; run: apt-get install -y fonts-droid-fallback poppler-utils" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
# -o DPkg::Lock::Timeout waits for another apt instead of failing at once.
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends fonts-droid-fallback poppler-utils >/dev/null
echo "report tools: installed $FONT and $(command -v pdftoppm)"
