#!/usr/bin/env bash
# scripts/apt-deps.sh PACKAGE...: install the Debian packages that are
# missing (apt-get, as root), or say which are missing and how to install
# them, and fail. The Makefile's deps targets and scripts/deploy-check.sh
# use it, so every install goes the same way.
set -euo pipefail
missing=""
for p in "$@"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing:$missing"
  # shellcheck disable=SC2086 # one word per package
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
else
  echo "missing system packages:$missing"
  echo "install them with: sudo apt-get install -y$missing"
  exit 1
fi
