#!/usr/bin/env bash
# Put real test footage into $AVF_TEST_MEDIA (default ~/.cache/avfmae/test-media):
#   Megamind.avi  - 11.3 s, 720x528, 24 fps, an animated face with expressions, AC3 audio
#                   (from Debian's opencv-doc package, examples/data/).
# Idempotent: does nothing when the file is already there. Needs apt-get (Debian) and dpkg-deb.
set -euo pipefail

dest="${AVF_TEST_MEDIA:-$HOME/.cache/avfmae/test-media}"
mkdir -p "$dest"
if [ -s "$dest/Megamind.avi" ]; then
    echo "test media present in $dest"
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! apt-get download opencv-doc >/dev/null 2>&1; then
    apt-get update -qq
    apt-get download opencv-doc
fi
dpkg-deb -x opencv-doc_*.deb extracted
src="$(find extracted -name Megamind.avi -path '*examples/data*' | head -n 1)"
if [ -z "$src" ]; then
    echo "Megamind.avi not found in the opencv-doc package" >&2
    exit 1
fi
cp "$src" "$dest/Megamind.avi.tmp"
mv "$dest/Megamind.avi.tmp" "$dest/Megamind.avi"
echo "fetched $dest/Megamind.avi"
