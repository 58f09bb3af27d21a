#!/usr/bin/env bash
# static.t — the executable is self-contained: statically linked, and it runs
# in an otherwise empty root directory (chroot, when the test runs as root).
. "$(dirname "$0")/lib/tap.sh"
cd "$ROOT"
compile wc examples/wordcount.flow
like "$(ldd "$T/wc" 2>&1)" "not a dynamic executable" "ldd: not a dynamic executable"
if [ "$(id -u)" = 0 ] && command -v chroot >/dev/null; then
  mkdir -p "$T/root"
  cp "$T/wc" "$T/root/wc"
  cp examples/data/words.txt "$T/root/words.txt"
  want=$("$T/wc" input=examples/data/words.txt | sort)
  got=$(chroot "$T/root" /wc -w2 input=/words.txt | sort)
  is "$got" "$want" "runs under chroot with only itself and its input"
else
  echo "ok 2 # skip chroot needs root"
  TAP_N=$((TAP_N + 1))
fi
done_testing
