#!/bin/sh
# bootstrap.sh — the one entry point on a fresh Debian 12 machine:
#   ./bootstrap.sh demo    install what is missing, build dfc, compile and run examples/simple.flow
#   ./bootstrap.sh test    install what is missing, build, run the whole test suite
#   ./bootstrap.sh deps    only install what is missing
# Missing Debian packages are installed with apt-get (as root), once, quietly;
# then `make` does the rest with the given targets.
set -eu
cd "$(dirname "$0")"

# What dfc needs: a C toolchain, Lua 5.4 with LPeg, libsodium (static),
# prove (in perl), and pgrep (procps) for the cluster tests.
PACKAGES="make gcc libc6-dev lua5.4 liblua5.4-dev lua-lpeg-dev libsodium-dev perl procps"

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: these Debian packages are missing:$missing" >&2
    echo "bootstrap: run as root (or: sudo apt-get install$missing)" >&2
    exit 1
  fi
  echo "bootstrap: installing$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  log=$(mktemp)
  if ! { apt-get -qq update && apt-get -qq install -y --no-install-recommends $missing; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "bootstrap: apt-get failed" >&2
    exit 1
  fi
  rm -f "$log"
fi

[ "${1:-}" = deps ] && exit 0
exec make --no-print-directory -s "${@:-all}"
