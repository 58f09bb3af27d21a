#!/bin/sh
# sanitize-flows.sh SAN FLAGS — part of `make sanitize`: compiles the examples
# against the runtime built with a sanitizer (build/SAN/libdfcrt.a) and runs
# them with 1 and 4 workers and as a local cluster of 2 processes x 2 workers;
# each run must be clean and print the same lines as the normal build.
set -u
san=$1
flags=$2
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
text="$out/text.txt"
# 400k words of 150k: at -w4 and -p2 -w2 a worker meets over 45000 keys of
# others, so wordcount also sends partial counts mid-run (dfc_combine_due).
perl -e 'srand(3); for (1 .. 50000) { print join(" ", map { "w" . int(rand(150000)) } 1 .. 8), "\n" }' > "$text"
fail=0
for ex in simple wordcount temperatures vowels; do
  if ! DFC_RUNTIME="build/$san/libdfcrt.a" DFC_CFLAGS="$flags -g" DFC_LDFLAGS="" \
       bin/dfc "examples/$ex.flow" -o "$out/$ex-$san" >"$out/cc.log" 2>&1; then
    echo "$san $ex: does not compile"; cat "$out/cc.log"; fail=1; continue
  fi
  bin/dfc "examples/$ex.flow" -o "$out/$ex" || { fail=1; continue; }
  args=""
  [ "$ex" = wordcount ] && args="input=$text"
  want=$("$out/$ex" $args | sort)
  for conf in "-w1" "-w4" "-p2 -w2"; do
    if got=$(UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 TSAN_OPTIONS=halt_on_error=1 \
             timeout 120 "$out/$ex-$san" $conf $args 2>"$out/err.log" | sort) && [ ! -s "$out/err.log" ] && [ "$got" = "$want" ]; then
      echo "$san flow $ex $conf: ok"
    else
      echo "$san flow $ex $conf: FAILED"; head -30 "$out/err.log"; fail=1
    fi
  done
done
exit $fail
