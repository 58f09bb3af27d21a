# tap.sh — TAP helpers for the shell tests (sourced; run by prove).
#   . "$(dirname "$0")/lib/tap.sh"
#   is "$got" "$want" "name"; ok CMD... ; like "$got" "regex" "name"; done_testing
# Also: DFC (the compiler), a scratch directory $T removed at exit, and
# compile NAME FLOWFILE that builds $T/NAME once.
set -u
TAP_N=0
TAP_FAILED=0
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DFC="$ROOT/bin/dfc"
T=$(mktemp -d "${TMPDIR:-/tmp}/dfc-test.XXXXXX")
trap 'rm -rf "$T"' EXIT

tap_result() { # ok? name diag
  TAP_N=$((TAP_N + 1))
  if [ "$1" = 0 ]; then
    echo "ok $TAP_N - $2"
  else
    TAP_FAILED=$((TAP_FAILED + 1))
    echo "not ok $TAP_N - $2"
    # diagnostics on stderr: prove shows them without -v (CI logs)
    [ -n "${3:-}" ] && printf '%s\n' "$3" | head -40 | sed 's/^/#   /' >&2
  fi
  return 0
}

is() { # got want name
  if [ "$1" = "$2" ]; then tap_result 0 "$3"
  else tap_result 1 "$3" "$(printf 'got:\n%s\nexpected:\n%s' "$1" "$2")"; fi
}

like() { # got extended-regex name
  if printf '%s' "$1" | grep -Eq -- "$2"; then tap_result 0 "$3"
  else tap_result 1 "$3" "$(printf 'got:\n%s\npattern: %s' "$1" "$2")"; fi
}

ok() { # name cmd...
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then tap_result 0 "$name"; else tap_result 1 "$name" "$out"; fi
}

diag() { printf '%s\n' "$*" | sed 's/^/# /'; }

# compile NAME FILE: builds $T/NAME from FILE; reports a failure as a test.
compile() {
  local out
  if out=$("$DFC" "$2" -o "$T/$1" 2>&1); then return 0; fi
  tap_result 1 "compile $2" "$out"
  return 1
}

# flow NAME <<'EOF' ... EOF: writes $T/NAME.flow from stdin and compiles it.
flow() {
  cat > "$T/$1.flow"
  compile "$1" "$T/$1.flow"
}

done_testing() {
  echo "1..$TAP_N"
  [ "$TAP_FAILED" = 0 ]
  exit $?
}
