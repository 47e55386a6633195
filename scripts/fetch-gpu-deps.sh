#!/usr/bin/env bash
# Fetches, here (where Debian's mirrors answer), the .deb files of the build
# dependencies a GPU machine without a package registry lacks, into
# .gpu-deps/ (git-ignored; the device tool carries it with the working tree,
# about 25 MB). scripts/gpu_check.sh unpacks them there with dpkg -x.
# LibTorch, CUDA, CMake and ninja come from that machine itself.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=.gpu-deps
PKGS=(nlohmann-json3-dev libcli11-dev libpcre2-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3
      libicu-dev libicu72 libgtest-dev libgmock-dev libtcmalloc-minimal4 pkgconf pkgconf-bin libpkgconf3)
mkdir -p "$OUT"
cd "$OUT"
rm -f ./*.deb
apt-get download "${PKGS[@]}" >/dev/null
du -sh . | cut -f1 | xargs echo "fetch-gpu-deps: $(ls ./*.deb | wc -l) packages in $OUT,"
