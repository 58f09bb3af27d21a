#!/usr/bin/env bash
# tests/cluster.t — compiled flows run as clusters of processes on
# 127.0.0.1 (runtime/cluster.c, spawn.c over net.c): the output is the same
# multiset as one process with one worker; start-up in any order; strangers,
# wrong keys, other flows, other -w and duplicate ids; a peer killed, stalled
# or interrupted mid-run; -p N.  TAP.  Every process runs under `timeout`
# (its own process group) and is killed and reaped on exit.
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/cluster.sh"
cd "$ROOT"

[ -x build/dfc-keygen ] || { echo "1..0 # SKIP run make first"; exit 0; }
"$DFC" keygen >"$T/key" && chmod 600 "$T/key"
"$DFC" keygen >"$T/other.key"

# start NAME BINARY ARGS...: in the background, output in $T/NAME.{out,err}
start() { spawn "$1" 60 "${@:2}"; }
child() { # the flow process under timeout (never an empty or init pid)
    local c
    [ -n "${PID[$1]:-}" ] || return 1
    c=$(pgrep -P "${PID[$1]}" | head -1)
    [ -n "$c" ] && [ "$c" -gt 1 ] && echo "$c"
}
errs() { cat "$T"/*.err 2>/dev/null | head -20; }

# ------------------------------------------------------------------ flows
compile wordcount examples/wordcount.flow || exit 1
compile temperatures examples/temperatures.flow || exit 1
compile vowels examples/vowels.flow || exit 1
compile simple examples/simple.flow || exit 1
# chained finals, redistribute, a file sink written by process 0 only
flow chain <<'END' || exit 1
param out: str = ""
param n: i64 = 30000
words = input range(n) | map(x => "w" .. str(x % 97)) | redistribute
per_word = words | key_on(w => w) | count_final
per_word | key_on(p => str(p.1)) | count_final
         | map((k, c) => "count " .. k .. " " .. str(c)) | output file(out)
per_word | redistribute | map((w, c) => w .. " " .. str(c)) | output stdout
END
# long enough to be killed mid-run; finals only at the end
flow slow <<'END' || exit 1
param n: i64 = 1000000000
input range(n) | key_on(x => str(x % 10)) | count_final | output stdout
END
flow slow2 <<'END' || exit 1
param n: i64 = 1000000000
input range(n) | key_on(x => str(x % 11)) | count_final | output stdout
END

# ~1 MB of text, 8 words a line
awk 'BEGIN { srand(7); for (i = 0; i < 22000; i++) { l = "";
      for (j = 0; j < 8; j++) l = l " w" int(rand() * rand() * 6000); print l } }' >"$T/text"
want_wc=$(tr -s ' ' '\n' <"$T/text" | grep -v '^$' | sort | uniq -c | awk '{ print $2, $1 }' | sort)
is "$("$T/wordcount" input="$T/text" | sort)" "$want_wc" "wordcount 1x1 agrees with tr|sort|uniq -c"

# ------------------------------------------------------------------ same multiset
# run_as NAME CONFIG ARGS...: runs flow NAME with -w/-p CONFIG, sorted stdout
run_as() {
    local name=$1 cfg=$2
    shift 2
    timeout -s KILL 60 "$T/$name" $cfg "$@" 2>"$T/run.err" | sort
    return "${PIPESTATUS[0]}"
}
check_flow() { # NAME ARGS...: 1x1 against 1x4, 2x1, 2x2, 3x2
    local name=$1
    shift
    local want got cfg
    want=$(run_as "$name" "" "$@")
    for cfg in "-w 4" "-p 2" "-p 2 -w 2" "-p 3 -w 2"; do
        got=$(run_as "$name" "$cfg" "$@")
        local rc=$?
        if [ $rc = 0 ] && [ "$got" = "$want" ] && [ -n "$want" ]; then tap_result 0 "$name: $cfg = 1x1"
        else tap_result 1 "$name: $cfg = 1x1" "rc=$rc $(cat "$T/run.err")
$(diff <(echo "$want") <(echo "$got") | head -10)"; fi
    done
}
check_flow wordcount input="$T/text"
check_flow temperatures readings="$ROOT/examples/data/readings.csv"
check_flow vowels input="$T/text"
check_flow simple n=100000

want_chain_out=$(seq 0 29999 | awk '{ print "w" ($1 % 97) }' | sort | uniq -c | awk '{ print $2, $1 }' | sort)
want_chain_file=$(echo "$want_chain_out" | awk '{ print $2 }' | sort | uniq -c | awk '{ print "count " $2 " " $1 }' | sort)
for cfg in "" "-w 4" "-p 2" "-p 2 -w 2" "-p 3 -w 2"; do
    rm -f "$T/chain.txt"
    got=$(run_as chain "$cfg" out="$T/chain.txt")
    rc=$?
    [ $rc = 0 ] && [ "$got" = "$want_chain_out" ] && [ "$(sort "$T/chain.txt")" = "$want_chain_file" ]
    tap_result $? "chained finals + redistribute + file sink: ${cfg:-1x1}" \
        "rc=$rc $(cat "$T/run.err"); file: $(head -5 "$T/chain.txt")"
done

# The same over explicit -i/-a (3x2), processes started in reverse order.
read -r P0 P1 P2 <<<"$(ports 3)"
A=$(addrs $P0 $P1 $P2)
for i in 2 1 0; do
    start wc$i "$T/wordcount" -w 2 -i $i -a "$A" --secret-file "$T/key" input="$T/text"
    sleep 0.3
done
rcs=""
for i in 0 1 2; do finish wc$i; rcs="$rcs$?"; done
is "$rcs" "000" "-i/-a 3x2 started in reverse order: all exit 0"
is "$(cat "$T"/wc0.out "$T"/wc1.out "$T"/wc2.out | sort)" "$want_wc" "-i/-a 3x2 started in reverse order: wordcount = 1x1"

# Tiny frames: every batch split over frames, big messages sent in parts.
got=$(DFC_FRAME_LIMIT=100 run_as wordcount "-p 2 -w 2" input="$T/text")
is "$got" "$want_wc" "wordcount 2x2 with 100-byte frames (messages in parts) = 1x1"

# Items of 0.9 to 17 MiB at the default frame sizes: a frame packs messages
# up to 1 MiB, a bigger message goes in a frame of its own, and one over
# 16 MiB in parts.
flow relay_lines <<'END' || exit 1
param f: str = ""
input file(f) | redistribute | output stdout
END
for kib in 900 1536 3072 17408 1; do head -c $((kib * 768)) /dev/urandom | base64 -w0; echo; done >"$T/biglines"
seq 2000 >>"$T/biglines"
got=$(run_as relay_lines "-p 2" f="$T/biglines" | md5sum)
is "$got" "$(sort "$T/biglines" | md5sum)" "items of 0.9-17 MiB across 2 processes arrive whole"

# The environment instead of flags: DFC_ADDRESSES/DFC_PROCESS_ID/DFC_SECRET_FILE
# and DFC_BIND_ADDRESS on one side, DFC_HOSTFILE_PATH and a StatefulSet pod name
# on the other.
read -r P0 P1 <<<"$(ports 2)"
printf '127.0.0.1:%s\n127.0.0.1:%s\n' $P0 $P1 >"$T/hosts"
DFC_ADDRESSES=$(addrs $P0 $P1) DFC_PROCESS_ID=0 DFC_SECRET_FILE="$T/key" DFC_BIND_ADDRESS=0.0.0.0 \
    start env0 "$T/simple" n=1000
DFC_HOSTFILE_PATH="$T/hosts" DFC_POD_NAME=flow-1 DFC_STATEFULSET_NAME=flow DFC_SECRET_FILE="$T/key" \
    start env1 "$T/simple" n=1000
finish env0; r0=$?
finish env1; r1=$?
[ $r0 = 0 ] && [ $r1 = 0 ] &&
    [ "$(cat "$T/env0.out" "$T/env1.out" | sort)" = "$(seq 0 2 1998 | sort)" ]
tap_result $? "env vars (DFC_ADDRESSES, DFC_HOSTFILE_PATH, DFC_POD_NAME, DFC_BIND_ADDRESS=0.0.0.0)" \
    "$(cat "$T/env0.err" "$T/env1.err")"

# ------------------------------------------------------------------ start-up
out=$("$T/simple" -i 0 -a "127.0.0.1:1;127.0.0.1:2" 2>&1)
rc=$?
is "$rc" "2" "-a with 2 processes and no --secret-file: exit 2"
like "$out" "needs --secret-file or DFC_SECRET_FILE" "... with a message naming --secret-file"

# Wrong secret: reported on both sides; the real peer still gets in.
read -r P0 P1 <<<"$(ports 2)"
A=$(addrs $P0 $P1)
start ws0 "$T/simple" --connect-timeout 20 -i 0 -a "$A" --secret-file "$T/key" n=1000
start ws1bad "$T/simple" --connect-timeout 3 -i 1 -a "$A" --secret-file "$T/other.key" n=1000
finish ws1bad; rbad=$?
# Garbage from a stranger, reported with its address.
exec 3<>"/dev/tcp/127.0.0.1/$P0" && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && sleep 0.3 && exec 3>&-
wait_for "$T/ws0.err" "not a dfc peer" 5
start ws1 "$T/simple" -i 1 -a "$A" --secret-file "$T/key" n=1000
finish ws0; r0=$?
finish ws1; r1=$?
[ $rbad != 0 ] && grep -qE "secret" "$T/ws1bad.err"
tap_result $? "wrong secret: the intruder fails with a message about the secret" "rc=$rbad $(cat "$T/ws1bad.err")"
grep -qE "handshake with 127\.0\.0\.1:[0-9]+ failed: .*secret" "$T/ws0.err"
tap_result $? "wrong secret: the listener reports it with the remote address" "$(cat "$T/ws0.err")"
grep -qE "handshake with 127\.0\.0\.1:[0-9]+ failed: not a dfc peer \(it sent \"GET / HT" "$T/ws0.err"
tap_result $? "garbage bytes: reported with the remote address" "$(cat "$T/ws0.err")"
[ $r0 = 0 ] && [ $r1 = 0 ] && [ "$(cat "$T/ws0.out" "$T/ws1.out" | sort)" = "$(seq 0 2 1998 | sort)" ]
tap_result $? "after the intruder and the garbage the real cluster forms and runs" \
    "$(cat "$T/ws0.err" "$T/ws1.err")"

# A different flow, a different -w: refused with a message saying which.
read -r P0 P1 <<<"$(ports 2)"
A=$(addrs $P0 $P1)
start df0 "$T/slow" --connect-timeout 5 -i 0 -a "$A" --secret-file "$T/key" n=10
start df1 "$T/slow2" --connect-timeout 5 -i 1 -a "$A" --secret-file "$T/key" n=10
finish df1; r1=$?
kill -9 -- "-${PID[df0]}" 2>/dev/null; finish df0
[ $r1 != 0 ] && grep -qE "different (flow|dataflow)|fingerprint" "$T/df1.err"
tap_result $? "a different flow is refused, the message says so" "$(cat "$T/df0.err" "$T/df1.err")"

read -r P0 P1 <<<"$(ports 2)"
A=$(addrs $P0 $P1)
start dw0 "$T/simple" --connect-timeout 5 -w 1 -i 0 -a "$A" --secret-file "$T/key" n=10
start dw1 "$T/simple" --connect-timeout 5 -w 2 -i 1 -a "$A" --secret-file "$T/key" n=10
finish dw1; r1=$?
kill -9 -- "-${PID[dw0]}" 2>/dev/null; finish dw0
[ $r1 != 0 ] && grep -qE -- "-w 1, this process with -w 2" "$T/dw1.err"
tap_result $? "a different -w is refused, the message says so" "$(cat "$T/dw0.err" "$T/dw1.err")"

# Two processes with -i 1 (the second listens elsewhere with --bind): the
# second is refused; the cluster forms with the first once process 2 comes.
read -r P0 P1 P2 P3 <<<"$(ports 4)"
A=$(addrs $P0 $P1 $P2)
start du0 "$T/simple" -i 0 -a "$A" --secret-file "$T/key" n=1000
start du1 "$T/simple" -i 1 -a "$A" --secret-file "$T/key" n=1000
sleep 1
start du1b "$T/simple" --bind "127.0.0.1:$P3" -i 1 -a "$A" --secret-file "$T/key" n=1000
finish du1b; rb=$?
start du2 "$T/simple" -i 2 -a "$A" --secret-file "$T/key" n=1000
finish du0; r0=$?
finish du1; r1=$?
finish du2; r2=$?
[ $rb != 0 ] && grep -qE "refused this process: process 1 is already connected from 127\.0\.0\.1:[0-9]+ \(two processes started with -i 1\?\)" "$T/du1b.err"
tap_result $? "a duplicate -i is refused with its message" "rc=$rb $(cat "$T/du1b.err")"
[ "$r0$r1$r2" = 000 ] && [ "$(cat "$T"/du0.out "$T"/du1.out "$T"/du2.out | sort)" = "$(seq 0 2 1998 | sort)" ]
tap_result $? "... and the real cluster still forms and runs" "$(cat "$T"/du*.err)"

# ------------------------------------------------------------------ faults
# A peer killed with SIGKILL mid-run.
read -r P0 P1 P2 <<<"$(ports 3)"
A=$(addrs $P0 $P1 $P2)
for i in 0 1 2; do start k$i "$T/slow" -i $i -a "$A" --secret-file "$T/key"; done
sleep 1.5
victim=$(child k1) && t0=$(now_ms) && kill -KILL "$victim"
finish k0; r0=$?
t1=$(now_ms)
finish k2; r2=$?
finish k1
[ $r0 != 0 ] && [ $r2 != 0 ]
tap_result $? "peer SIGKILLed: the others exit non-zero" "r0=$r0 r2=$r2 $(cat "$T"/k*.err)"
[ $((t1 - t0)) -lt 3000 ]
tap_result $? "... within 3 s ($((t1 - t0)) ms)"
grep -qE "connection to process 1 \(127\.0\.0\.1:$P1\) broken: peer closed the connection" "$T/k0.err" &&
    grep -qE "process 1 \(127\.0\.0\.1:$P1\)" "$T/k2.err"
tap_result $? "... naming process 1 and its address" "$(cat "$T"/k0.err "$T"/k2.err)"
[ ! -s "$T/k0.out" ] && [ ! -s "$T/k2.out" ]
tap_result $? "... and printing no final results"

# A stalled peer (SIGSTOP), with --stall-timeout 2.
read -r P0 P1 <<<"$(ports 2)"
A=$(addrs $P0 $P1)
for i in 0 1; do start s$i "$T/slow" --stall-timeout 2 -i $i -a "$A" --secret-file "$T/key"; done
sleep 1.5
victim=$(child s1) && t0=$(now_ms) && kill -STOP "$victim"
finish s0; r0=$?
t1=$(now_ms)
[ -n "$victim" ] && kill -KILL "$victim"; finish s1
[ $r0 != 0 ] && [ $((t1 - t0)) -lt 5000 ] &&
    grep -qE "connection to process 1 \(127\.0\.0\.1:$P1\) broken: nothing received for 2 s" "$T/s0.err" &&
    [ ! -s "$T/s0.out" ]
tap_result $? "stalled peer: exit non-zero after the stall timeout ($((t1 - t0)) ms), naming it" "$(cat "$T/s0.err")"

# SIGTERM to one process: it exits 143, the others stop with a message.
read -r P0 P1 <<<"$(ports 2)"
A=$(addrs $P0 $P1)
for i in 0 1; do start t$i "$T/slow" -w 2 -i $i -a "$A" --secret-file "$T/key"; done
sleep 1.5
victim=$(child t0) && kill -TERM "$victim"
finish t0; r0=$?
finish t1; r1=$?
[ $r0 = 143 ] && grep -q "interrupted by SIGTERM (process 0)" "$T/t0.err"
tap_result $? "SIGTERM: the interrupted process exits 143 with a message" "rc=$r0 $(cat "$T/t0.err")"
[ $r1 = 1 ] && grep -qE "process 0 \(127\.0\.0\.1:$P0\) stopped the run: interrupted by SIGTERM" "$T/t1.err" && [ ! -s "$T/t1.out" ]
tap_result $? "SIGTERM: its peer exits 1 naming it, no results" "rc=$r1 $(cat "$T/t1.err")"

# -p: SIGTERM to the parent reaches every child; exit 143; key file removed.
mkdir -p "$T/tmp"
TMPDIR="$T/tmp" start pp "$T/slow" -p 2
sleep 1.5
ls "$T/tmp" | grep -q '^dfc-cluster-key\.'
tap_result $? "-p 2: the key is in a temporary file while the cluster runs"
[ "$(stat -c %a "$T"/tmp/dfc-cluster-key.* 2>/dev/null)" = 600 ]
tap_result $? "... readable by the owner only"
pp=$(child pp) && kill -TERM "$pp"
finish pp; rp=$?
[ $rp = 143 ] && [ ! -s "$T/pp.out" ] && [ -z "$(ls "$T/tmp")" ] &&
    [ "$(grep -c "interrupted by SIGTERM" "$T/pp.err")" = 2 ]
tap_result $? "-p 2: SIGTERM to the parent stops every child, exit 143, key file removed" \
    "rc=$rp $(cat "$T/pp.err"; ls "$T/tmp")"

# -p: a failing child makes the whole run fail.
out=$(timeout -s KILL 30 "$T/wordcount" -p 2 input="$T/missing.txt" 2>&1)
rc=$?
[ $rc = 1 ] && printf '%s' "$out" | grep -q "cannot open"
tap_result $? "-p 2 with a missing input: exit 1 with the error" "rc=$rc $out"

done_testing
