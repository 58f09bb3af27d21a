#!/usr/bin/env bash
# cli.t — the compiled executable's command line (SPEC §4): params typed at
# start-up, -w validation, --help, --version, --graph, environment variables,
# and the compiler's own command line.
. "$(dirname "$0")/lib/tap.sh"
cd "$ROOT"
compile wc examples/wordcount.flow
flow params <<'END'
param top: i64 = 10
param ratio: f64 = 0.5
param name: str = "x"
param flag: bool = false
param need: i64
input range(1) | map(x => (top, ratio, name, flag, need)) | output stdout
END

out=$("$T/params" need=1 top=abc 2>&1); rc=$?
is "$rc" "2" "top=abc (an i64 param) exits 2"
like "$out" "param 'top' expects an i64, got 'abc'" "top=abc is refused with a clear message"
out=$("$T/params" -w0 need=1 2>&1); rc=$?
is "$rc" "2" "-w0 exits 2"
like "$out" "-w.* must be a positive integer, got '0'" "-w0 is refused with a clear message"
out=$("$T/params" need=1 -w x 2>&1); rc=$?
is "$rc" "2" "-w x exits 2"
out=$("$T/params" 2>&1); rc=$?
is "$rc" "2" "a missing required param exits 2"
like "$out" "need" "the missing param is named"
out=$("$T/params" need=1 nope=3 2>&1); rc=$?
is "$rc" "2" "an unknown param exits 2"
like "$out" "unknown param 'nope'" "the unknown param is named"
out=$("$T/params" need=1 ratio=zz 2>&1); rc=$?
is "$rc" "2" "ratio=zz (an f64 param) exits 2"
out=$("$T/params" need=1 flag=maybe 2>&1); rc=$?
is "$rc" "2" "flag=maybe (a bool param) exits 2"

is "$("$T/params" need=7)" '(10, 0.5, "x", false, 7)' "defaults apply"
is "$("$T/params" need=-3 top=-5 ratio=2 name='a b' flag=true)" '(-5, 2.0, "a b", true, -3)' "given params apply"
is "$(DFC_WORKERS_PER_PROCESS=3 "$T/params" need=1 2>&1)" '(10, 0.5, "x", false, 1)' "DFC_WORKERS_PER_PROCESS is accepted"
out=$(DFC_WORKERS_PER_PROCESS=0 "$T/params" need=1 2>&1); rc=$?
is "$rc" "2" "DFC_WORKERS_PER_PROCESS=0 exits 2"

help=$("$T/params" --help 2>&1); rc=$?
is "$rc" "0" "--help exits 0"
like "$help" "top: i64 = 10" "--help lists an i64 param with its default"
like "$help" "name: str = \"x\"" "--help lists a str param with its default"
like "$help" "need: i64 .*required" "--help marks required params"
like "$help" "-w" "--help lists -w"
like "$("$T/params" --version)" "^params \(dfc [0-9.]+, fingerprint [0-9a-f]{16,}\)" "--version names the flow and its fingerprint"
graph=$("$T/wc" --graph)
like "$graph" "^digraph" "--graph prints Graphviz DOT"
like "$graph" "counts.count_final" "--graph names the steps"
like "$graph" "exchange by key" "--graph shows the exchange"

# The compiler's own command line
out=$("$DFC" 2>&1); rc=$?
is "$rc" "2" "dfc without a file exits 2"
out=$("$DFC" "$T/none.flow" -o "$T/x" 2>&1); rc=$?
is "$rc" "1" "dfc on a missing file exits 1"
like "$out" "none.flow" "dfc names the missing file"
"$DFC" examples/wordcount.flow --emit-c "$T/wc.c"
like "$(cat "$T/wc.c")" "#line [0-9]+ \"examples/wordcount.flow\"" "--emit-c keeps #line directives to the .flow file"
like "$(cat "$T/wc.c")" "/\* counts.count_final \(count_final\) \*/" "generated C names each step"
# A mistake inside a c { } block is the C compiler's to report, at the
# .flow line it came from (#line), and dfc says which file; exit 1.
cat > "$T/cblock.flow" <<'END'
c {
  static int64_t twice(int64_t x) { return x * 2 }
}
extern twice(i64) -> i64
input range(3) | map(x => twice(x)) | output stdout
END
out=$("$DFC" "$T/cblock.flow" -o "$T/cblock" 2>&1); rc=$?
is "$rc" "1" "a C error inside a c { } block exits 1"
like "$out" "cblock.flow:2:[0-9]+: error: expected" "the C error points into the .flow file"
like "$out" "the C code in .*cblock.flow does not compile" "dfc names the flow whose C does not compile"
# An extern that nothing defines is reported at the extern (not as a
# linker error); one defined with another type is the C compiler's error at
# the extern's line; a C library function needs no c { } block.
cat > "$T/noext.flow" <<'END'
extern sqrt(f64) -> f64
extern shout(str) -> str
input range(3) | map(x => shout(str(sqrt(float(x))))) | output stdout
END
out=$("$DFC" "$T/noext.flow" -o "$T/noext" 2>&1); rc=$?
is "$rc" "1" "an extern without a definition exits 1"
is "$out" "$(printf '%s\n' "$T/noext.flow:2:1: error: extern 'shout' has no definition; define it in a c { } block, or name a C library function" '    extern shout(str) -> str' '    ^')" "an extern without a definition is reported at the extern, with a caret"
cat > "$T/badext.flow" <<'END'
c {
  static int half(dfc_str s) { return (int)s.len / 2; }
}
extern half(str) -> i64
input range(3) | map(x => half(str(x))) | output stdout
END
out=$("$DFC" "$T/badext.flow" -o "$T/badext" 2>&1); rc=$?
is "$rc" "1" "an extern whose definition has another type exits 1"
like "$out" "badext.flow:4:[0-9]+: error: conflicting types for .half" "the conflict is reported at the extern's line"
cat > "$T/lost.flow" <<'END'
extern lost(i64) -> i64
input range(3) | map(x => lost(x)) | output stdout
END
out=$("$DFC" "$T/lost.flow" -o "$T/lost" 2>&1); rc=$?
is "$rc:$out" "1:$(printf '%s\n' "$T/lost.flow:1:1: error: extern 'lost' has no definition; define it in a c { } block, or name a C library function" '    extern lost(i64) -> i64' '    ^')" "an i64 extern without a definition (a link error) is reported at the extern too"
# C library functions and macros: ldexp(double, int) and isnan (a macro)
# need no block; a block's function-like macro is not given a prototype.
cat > "$T/libext.flow" <<'END'
c {
  #define twice(x) ((x) * 2)
}
extern sqrt(f64) -> f64
extern isnan(f64) -> bool
extern ldexp(f64, i64) -> f64
extern twice(i64) -> i64
input range(3) | map(x => str(sqrt(float(x * x))) .. " " .. str(isnan(0.0)) .. " " .. str(ldexp(1.0, x)) .. " " .. str(twice(x))) | output stdout
END
"$DFC" "$T/libext.flow" -o "$T/libext" 2>&1
is "$("$T/libext")" "$(printf '0.0 false 1.0 0\n1.0 false 2.0 2\n2.0 false 4.0 4')" "externs may name C library functions (sqrt, ldexp, the macro isnan) and a block's macro"
# Standard output closed by its reader: quiet, killed by SIGPIPE (141), as
# Unix tools are.
cat > "$T/many.flow" <<'END'
input range(1000000) | map(x => str(x)) | output stdout
END
"$DFC" "$T/many.flow" -o "$T/many"
first=$("$T/many" 2>"$T/many.err" | head -1; echo "rc=${PIPESTATUS[0]}")
is "$first" "$(printf '0\nrc=141')" "./flow | head -1: the first line, then killed by SIGPIPE"
is "$(cat "$T/many.err")" "" "./flow | head -1: nothing on stderr"
done_testing
