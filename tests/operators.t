#!/usr/bin/env bash
# operators.t — each operator, source, sink and builtin of this release in a
# small flow whose exact output is known by hand (sorted where workers make
# the order undefined), checked for -w1 and -w4.
. "$(dirname "$0")/lib/tap.sh"

# check NAME WANT [ARGS...]: runs $T/NAME as 1 process with 1 and 4 workers
# and as local clusters of 2x1, 2x2 and 3x2 (-p, 127.0.0.1, encrypted); the
# sorted output must be WANT (sorted) every time.
check() {
  local name=$1 want=$2; shift 2
  want=$(printf '%s\n' "$want" | sort)
  for conf in "-w1" "-w4" "-p2 -w1" "-p2 -w2" "-p3 -w2"; do
    is "$(timeout 60 "$T/$name" $conf "$@" 2>&1 | sort)" "$want" "$name $conf"
  done
}

flow stateless <<'END'
nums = input range(10)
nums | filter(x => x % 3 == 0) | map(x => x * 10) | output stdout
END
check stateless "$(printf '0\n30\n60\n90')"

flow filter_map <<'END'
nums = input range(7)
nums | filter_map(x => if x % 2 == 0 then some(x / 2) else none) | output stdout
END
check filter_map "$(printf '0\n1\n2\n3')"

flow flat_map <<'END'
nums = input range(3)
nums | flat_map(x => [x, x + 10]) | output stdout
nums | map(x => [str(x), "y"]) | flatten | map(s => "f " .. s) | output stdout
END
check flat_map "$(printf '0\n10\n1\n11\n2\n12\nf 0\nf y\nf 1\nf y\nf 2\nf y')"

flow text_forms <<'END'
nums = input range(1)
nums | map(x => (x, "a\"b\\c\n", 1.5, true, [1, 2], some("s"), if x > 5 then some(1) else none)) | output stdout
nums | map(x => [float(x) / 4.0, 0.1 + 0.2, 1e22, -0.5, 3.0]) | output stdout
nums | map(x => str(-7 / 2) .. " " .. str(-7 % 2) .. " " .. str(7 / -2) .. " " .. str(7.5 % 2.0)) | output stdout
nums | map(x => ("k", [("a", 1)])) | output stdout
END
check text_forms "$(cat <<'W'
(0, "a\"b\\c\n", 1.5, true, [1, 2], some("s"), none)
[0.0, 0.30000000000000004, 1e+22, -0.5, 3.0]
-4 1 -4 1.5
("k", [("a", 1)])
W
)"

# Floor division and modulo by literal divisors (shift, mask, multiply in
# the C) and by a divisor known only at run time: the same floored results.
flow floor_div <<'END'
param d: i64 = 3
nums = input range(9)
nums | map(x => x - 4) | map(x => (x, x / 4, x % 4, x / 3, x % 3, x / d, x % d, x % 3 == 0, x % 4 != 0)) | output stdout
END
check floor_div "$(for x in -4 -3 -2 -1 0 1 2 3 4; do
  perl -e '$x = shift; $f = sub { my ($a, $b) = @_; my $q = int($a / $b); $q-- if $q * $b != $a && ($a < 0) != ($b < 0); $q };
    my ($q4, $q3) = ($f->($x, 4), $f->($x, 3)); my ($m4, $m3) = ($x - 4 * $q4, $x - 3 * $q3);
    printf "(%d, %d, %d, %d, %d, %d, %d, %s, %s)\n", $x, $q4, $m4, $q3, $m3, $q3, $m3, $m3 == 0 ? "true" : "false", $m4 != 0 ? "true" : "false"' -- $x
done)"

flow keyed <<'END'
nums = input range(6)
kv = nums | key_on(x => str(x % 2)) | map_value(x => x * 100)
kv | filter_value(v => v > 0) | output stdout
kv | key_rm | map(v => "v " .. str(v)) | output stdout
kv | filter_map_value(v => if v >= 400 then some(v + 1) else none) | output stdout
kv | filter_value(v => v == 500) | flat_map_value(v => [v, 0 - v]) | output stdout
END
check keyed "$(cat <<'W'
("0", 200)
("0", 400)
("1", 100)
("1", 300)
("1", 500)
v 0
v 100
v 200
v 300
v 400
v 500
("0", 401)
("1", 501)
("1", 500)
("1", -500)
W
)"

flow branch_merge <<'END'
hi, lo = input range(6) | branch(x => x >= 4)
a = hi | map(x => "hi " .. str(x))
b = lo | map(x => "lo " .. str(x))
merge(a, b) | output stdout
lo | merge(hi) | redistribute | map(x => "all " .. str(x)) | output stdout
END
check branch_merge "$(printf 'hi 4\nhi 5\nlo 0\nlo 1\nlo 2\nlo 3\nall 0\nall 1\nall 2\nall 3\nall 4\nall 5')"

flow finals <<'END'
nums = input range(10)
nums | count_final(x => str(x % 3)) | map((k, n) => "count " .. k .. " " .. str(n)) | output stdout
byparity = nums | key_on(x => if x % 2 == 0 then "even" else "odd")
byparity | fold_final(0, (acc, x) => acc + x) | map((k, s) => "sum " .. k .. " " .. str(s)) | output stdout
byparity | reduce_final((a, b) => max(a, b)) | map((k, m) => "reduce " .. k .. " " .. str(m)) | output stdout
byparity | max_final | map((k, m) => "max " .. k .. " " .. str(m)) | output stdout
byparity | min_final | map((k, m) => "min " .. k .. " " .. str(m)) | output stdout
byparity | fold_final("", (acc, x) => if str(x) > acc then str(x) else acc)
         | map((k, s) => "maxstr " .. k .. " " .. s) | output stdout
byparity | map_value(x => str(x)) | min_final | map((k, s) => "minstr " .. k .. " " .. s) | output stdout
nums | key_on(x => "all") | fold_final(0, (acc, x) => acc + x) | output stdout
nums | key_on(x => "all") | reduce_final((a, b) => max(a, b)) | map((k, m) => "top " .. str(m)) | output stdout
END
check finals "$(cat <<'W'
count 0 4
count 1 3
count 2 3
sum even 20
sum odd 25
reduce even 8
reduce odd 9
max even 8
max odd 9
min even 0
min odd 1
maxstr even 8
maxstr odd 9
minstr even 0
minstr odd 1
("all", 45)
top 9
W
)"

# A constant key that never gets a value emits nothing (its slot exists from
# the start, but no value arrived); with values, exactly one result.
flow const_key <<'END'
param n: i64 = 0
nums = input range(n)
nums | key_on(x => "all") | fold_final(100, (acc, x) => acc + x) | output stdout
nums | key_on(x => "all") | count_final | output stdout
nums | key_on(x => "all") | map_value(x => str(x)) | max_final | output stdout
END
check const_key ""
check const_key "$(printf '("all", 110)\n("all", 5)\n("all", "4")')" n=5
# Many source batches and messages: the one key's value is carried across
# them (it lives in registers during a batch and in the state between).
check const_key "$(printf '("all", 19999900100)\n("all", 200000)\n("all", "99999")')" n=200000

# More keys than combining holds back (dfc_combine_due: at -w4 and -p3 -w2
# a worker sees three times or more as many keys of others): partial counts
# and maxima are sent mid-run and again at the end, and add up exactly.
flow many_keys <<'END'
nums = input range(300000)
nums | count_final(x => str(x % 120000)) | map((k, n) => n) | count_final(n => "count " .. str(n)) | output stdout
nums | key_on(x => str(x % 120000)) | max_final | filter((k, m) => m != (if int(k) < 60000 then int(k) + 240000 else int(k) + 120000)) | count_final(p => "wrong max") | output stdout
END
check many_keys "$(printf '("count 3", 60000)\n("count 2", 60000)')"

# i64 sums in fold_final and reduce_final combine like counts (partial sums
# sent mid-run and at the end); the initial value is added once, by the key's
# owner.  Key k gets k, k + 120000 and, below 60000, k + 240000.
flow sums <<'END'
nums = input range(300000)
keyed = nums | key_on(x => str(x % 120000))
keyed | fold_final(7, (acc, x) => acc + x) | filter((k, s) => s != (if int(k) < 60000 then 3 * int(k) + 360007 else 2 * int(k) + 120007)) | count_final(p => "wrong fold sum") | output stdout
keyed | reduce_final((a, b) => b + a) | filter((k, s) => s != (if int(k) < 60000 then 3 * int(k) + 360000 else 2 * int(k) + 120000)) | count_final(p => "wrong reduce sum") | output stdout
keyed | fold_final(7, (acc, x) => acc + x) | count_final(p => "fold sums") | output stdout
nums | key_on(x => "all") | reduce_final((a, b) => a + b) | output stdout
END
check sums "$(printf '("fold sums", 120000)\n("all", 44999850000)')"

# A million keys out of one final step into another keyed by the same keys,
# and a run over the keys that a run of the same flow wrote: the keys come
# in a table's slot order.  Were the tables (or two runs) to order slots
# alike, each insert would probe through long runs of taken slots (1M keys:
# minutes with one worker, so the 30 s limit fails; with two workers each
# table holds half the keys and the slowdown stays under the limit, so -w2
# checks the counts only).
flow same_keys <<'END'
nums = input range(1000000)
firsts = nums | count_final(x => "k" .. str(x)) | map((k, n) => k)
firsts | count_final(k => k) | map((k, n) => n) | count_final(n => "count " .. str(n)) | output stdout
END
is "$(timeout 30 "$T/same_keys" -w1 2>&1)" '("count 1", 1000000)' "same_keys -w1: keys in another table's order, within 30 s"
is "$(timeout 60 "$T/same_keys" -w2 2>&1)" '("count 1", 1000000)' "same_keys -w2: counts of keys in another table's order"
flow relay <<'END'
param f: str = ""
param g: str = ""
keys = input file(f) | count_final(k => k)
keys | map((k, n) => n) | count_final(n => "count " .. str(n)) | output stdout
keys | map((k, n) => k) | output file(g)
END
seq 1000000 | sed 's/^/k/' > "$T/keys0.txt"
is "$(timeout 30 "$T/relay" f="$T/keys0.txt" g="$T/keys1.txt" 2>&1)" '("count 1", 1000000)' "relay: a million keys"
is "$(timeout 30 "$T/relay" f="$T/keys1.txt" g="$T/keys2.txt" 2>&1)" '("count 1", 1000000)' "relay: the keys a run of the same flow wrote"

# Finals chained: the second count runs after the first has emitted everywhere.
flow chained <<'END'
words = input range(100) | map(x => "w" .. str(x % 10))
per_word = words | key_on(w => w) | count_final
per_word | key_on(p => str(p.1)) | count_final | output stdout
END
check chained '("10", 10)'

flow builtins <<'END'
param who: str = "World"
param times: i64 = 2
param scale: f64 = 0.5
param loud: bool = false
fn fact(n: i64) -> i64 = if n <= 1 then 1 else n * fact(n - 1)
fn shout(s: str) -> str = if loud then upper(s) else s
one = input range(1)
one | map(x => shout("hello " .. who)) | output stdout
one | map(x => let s = "  a,b,,c  " in join(split(trim(s), ","), "|")) | output stdout
one | map(x => [len("héllo"), fact(5), times * 3, abs(-4), min(3, 9), max(2, 7)]) | output stdout
one | map(x => (floor(2.7), ceil(2.1), round(2.5), round(3.5), int(-2.9), float(3) * scale)) | output stdout
one | map(x => (substr("dataflow", 4), substr("dataflow", 0, 4), substr("dataflow", -4, 2), replace("a-b-c", "-", "+"))) | output stdout
one | map(x => (starts_with("dfc", "df"), ends_with("dfc", "c"), contains("dfc", "x"), contains([1, 2], 2))) | output stdout
one | map(x => (try_parse_i64(" 42 "), try_parse_i64("4x"), try_parse_f64("2.5"), parse_i64("-17"), parse_f64("1e3"))) | output stdout
one | map(x => (split("a  b c"), lower("MiXeD"), 10s + 500ms, 2m, 1h, unwrap_or(try_parse_i64("no"), -1))) | output stdout
one | map(x => join([str(0), str(7), str(10), str(99), str(100), str(-5), str(-100), str(-9223372036854775807 - 1), str(9223372036854775807)], " ")) | output stdout
END
check builtins "$(cat <<'W'
hello World
a|b||c
[6, 120, 6, 4, 3, 7]
(2, 3, 2, 4, -2, 1.5)
("flow", "data", "fl", "a+b+c")
(true, true, false, true)
(some(42), none, some(2.5), -17, 1000.0)
(["a", "b", "c"], "mixed", 10500, 120000, 3600000, -1)
0 7 10 99 100 -5 -100 -9223372036854775808 9223372036854775807
W
)"
is "$("$T/builtins" who=dfc loud=true times=5 | head -1)" "HELLO DFC" "params reach expressions"

flow inspecting <<'END'
nums = input range(3)
nums | inspect | inspect(x => "seen " .. str(x)) | output discard
END
check inspecting "$(cat <<'W'
nums.inspect: 0
nums.inspect: 1
nums.inspect: 2
nums.inspect.2: seen 0
nums.inspect.2: seen 1
nums.inspect.2: seen 2
W
)"
flow inspect_dbg <<'END2'
nums = input range(3)
nums | map(x => "s" .. str(x)) | inspect_debug | output discard
END2
got=$("$T/inspect_dbg" -w2 | sort)
like "$got" '^nums.inspect_debug W[01] @1: "s0"' "inspect_debug prints step, worker, epoch and item"

# Sources ------------------------------------------------------------
mkdir -p "$T/in/sub"
printf 'a1\na2\n' > "$T/in/a.txt"
printf 'b1\n' > "$T/in/b.txt"
printf 'c1\r\nc2' > "$T/in/c.log"
printf 'name,qty,note\n"Smith, J",3,"said ""hi"""\nDoe,4,"multi\nline"\n' > "$T/in/rows.csv"
flow sources <<'END'
param d: str = ""
a = input dir(d, "*.txt") | map(l => "txt " .. l)
b = input dir(d, "*.log") | map(l => "log " .. l)
c = input csv(d .. "/rows.csv") | map(r => str(r))
merge(a, b, c) | output stdout
END
check sources "$(cat <<'W'
txt a1
txt a2
txt b1
log c1
log c2
["Smith, J", "3", "said \"hi\""]
["Doe", "4", "multi\nline"]
W
)" d="$T/in"

flow from_stdin <<'END'
nums = input stdin | filter_map(l => try_parse_i64(l))
nums | map(x => x * 2) | output stdout
END
is "$(printf '1\nx\n3\n' | "$T/from_stdin" -w4 | sort)" "$(printf '2\n6')" "stdin source, bad lines skipped by try_parse_i64"

seq 1 2000 > "$T/seq.txt"
flow ordered <<'END'
param f: str = ""
input file(f) | map(l => "n" .. l) | output stdout
END
is "$("$T/ordered" -w4 f="$T/seq.txt")" "$(seq 1 2000 | sed 's/^/n/')" "ordered file source keeps line order with -w4"

# A worker applies the values of each key in the order it made them, also
# when the lookups of many items overlap (items wait in a ring for their
# table slot): with one worker, every key sees its values in increasing order.
flow fold_order <<'END'
param n: i64 = 100000
input range(n) | key_on(x => str(x / 3 % 97))
  | fold_final((-1, 0, true), (acc, x) => (x, acc.1 + 1, acc.2 and x > acc.0))
  | filter((k, acc) => acc.2 and acc.1 > 1000)
  | count_final(p => "in order") | output stdout
END
is "$("$T/fold_order" -w1)" '("in order", 97)' "fold_final applies each key's values in order, -w1"
is "$("$T/fold_order" -w1 n=50)" "" "fold_final with few items per key (no key passes the filter), -w1"

# Sinks ---------------------------------------------------------------
flow sinks <<'END'
param out: str = ""
nums = input range(1000)
nums | map(x => "line " .. str(x)) | output file(out .. "/all.txt")
nums | key_on(x => str(x % 7)) | output dir(out .. "/parts")
nums | output discard
END
for conf in "-w1:1" "-w4:4" "-p2 -w2:4" "-p3 -w1:3"; do
  w=${conf#*:}
  flags=${conf%:*}
  rm -rf "$T/out" && mkdir -p "$T/out"
  timeout 60 "$T/sinks" $flags out="$T/out" > "$T/stdout.txt"
  is "$(sort "$T/out/all.txt")" "$(seq 0 999 | sed 's/^/line /' | sort)" "file sink gets every item once, $flags"
  is "$(cat "$T/out/parts"/part-* | sort)" "$(seq 0 999 | awk '{ printf "(\"%d\", %d)\n", $1 % 7, $1 }' | sort)" "dir sink gets every item once, $flags"
  nparts=$(ls "$T/out/parts" | wc -l)
  is "$nparts" "$w" "dir sink writes one part per worker, $flags"
  keysplit=$(for f in "$T/out/parts"/part-*; do cut -d, -f1 "$f" | sort -u; done | sort | uniq -d)
  is "$keysplit" "" "dir sink routes each key to one part, $flags"
  is "$(cat "$T/stdout.txt")" "" "discard prints nothing, $flags"
done

# Run-time errors name the step and exit 1 ---------------------------
flow bad_parse <<'END'
nums = input range(5)
nums | map(x => if x == 3 then "x3" else str(x)) | map(s => parse_i64(s)) @"parse" | output stdout
END
out=$("$T/bad_parse" 2>&1); rc=$?
is "$rc" "1" "a failed parse_i64 exits 1"
like "$out" "error: step 'parse': parse_i64: invalid integer \"x3\"" "a failed parse names the step and the text"

flow div_zero <<'END'
nums = input range(5)
nums | map(x => 10 / (x - 2)) | output stdout
END
out=$("$T/div_zero" 2>&1); rc=$?
is "$rc" "1" "division by zero exits 1"
like "$out" "error: step 'nums.map': division by zero" "division by zero names the step"

flow bad_index <<'END'
nums = input range(2)
nums | map(x => [1, 2, 3][x + 2]) | output stdout
END
out=$("$T/bad_index" 2>&1); rc=$?
is "$rc" "1" "list index out of range exits 1"
like "$out" "step 'nums.map': index 3 out of range for a list of length 3" "index error names the step"

flow raising <<'END'
nums = input range(3)
nums | raises | output stdout
END
out=$("$T/raising" 2>&1); rc=$?
is "$rc" "1" "raises exits 1"
like "$out" "error: step 'nums.raises'" "raises names its step"

flow bad_sink <<'END'
param out: str = ""
input range(3) | output file(out) @"save"
END
out=$("$T/bad_sink" out="$T/no/such/dir/out.txt" 2>&1); rc=$?
is "$rc" "1" "a file sink that cannot be opened exits 1"
like "$out" "error: step 'save': cannot open '$T/no/such/dir/out.txt'" "... naming the sink's step and the path"

out=$("$T/ordered" f="$T/missing.txt" 2>&1); rc=$?
is "$rc" "1" "a missing input file exits 1"
like "$out" "cannot open '$T/missing.txt'" "a missing input file is named"

done_testing
