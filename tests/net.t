#!/usr/bin/env bash
# tests/net.t — the cluster communication layer end to end: real processes
# (tests/unit/net_peer.c) forming meshes on 127.0.0.1, exchanging messages,
# and meeting strangers, wrong secrets, dead and stalled peers.  TAP.
#
# Uses build/tests/net_peer and build/dfc-keygen when they exist (make), or
# NET_PEER / DFC_KEYGEN from the environment; otherwise builds both into a
# temporary directory with cc.  Every process runs under `timeout`; every
# child is killed and reaped on exit.
set -u
cd "$(dirname "$0")/.."

T=$(mktemp -d "${TMPDIR:-/tmp}/dfc-net-t.XXXXXX")
. tests/lib/cluster.sh

[ -n "${NET_T_KEEP:-}" ] && trap 'for name in "${!PID[@]}"; do kill -9 -- "-${PID[$name]}" 2>/dev/null; done; wait 2>/dev/null; echo "# kept $T"' EXIT

# ------------------------------------------------------------------ TAP
n=0
failed=0
ok() { # ok STATUS NAME [DIAG-FILE...]
    local st=$1 name=$2
    shift 2
    n=$((n + 1))
    if [ "$st" -eq 0 ]; then
        echo "ok $n - $name"
    else
        echo "not ok $n - $name"
        failed=$((failed + 1))
        for f in "$@"; do [ -f "$f" ] && sed "s|^|#   $(basename "$f"): |" "$f" | head -20; done
    fi
}
has() { grep -qE -- "$2" "$1"; } # has FILE REGEX

# ------------------------------------------------------------------ tools
CFLAGS="-std=gnu11 -O2 -g -Iinclude -Iruntime -pthread"
NET_PEER=${NET_PEER:-build/tests/net_peer}
DFC_KEYGEN=${DFC_KEYGEN:-build/dfc-keygen}
if [ ! -x "$NET_PEER" ]; then
    NET_PEER=$T/net_peer
    cc $CFLAGS tests/unit/net_peer.c runtime/net.c runtime/handshake.c runtime/frame.c \
        -lsodium -o "$NET_PEER" 2>"$T/cc.err" || { echo "1..0 # SKIP cannot build net_peer"; exit 0; }
fi
if [ ! -x "$DFC_KEYGEN" ]; then
    DFC_KEYGEN=$T/dfc-keygen
    cc $CFLAGS runtime/tool_keygen.c -lsodium -o "$DFC_KEYGEN" 2>"$T/cc.err" ||
        { echo "1..0 # SKIP cannot build dfc-keygen"; exit 0; }
fi

"$DFC_KEYGEN" >"$T/key"
"$DFC_KEYGEN" >"$T/other.key"
ok $? "dfc-keygen writes a key"
has "$T/key" '^[0-9a-f]{64}$' && [ "$(wc -c <"$T/key")" -eq 65 ]
ok $? "the key is 64 lowercase hex digits and a newline" "$T/key"
cmp -s "$T/key" "$T/other.key"
[ $? -ne 0 ]; ok $? "two keys differ"

# start NAME ARGS...: net_peer in the background, output in $T/NAME.{out,err}.
# timeout makes itself a process group leader, so signal -PID to reach
# net_peer too (sig NAME SIGNAL).
start() { spawn "$1" 40 "$NET_PEER" "${@:2}"; }
sig() { kill "-$2" -- "-${PID[$1]}" 2>/dev/null; }
# run_pair A B ARGS...: A as process 0 and B as process 1 of the mesh $A2,
# both with ARGS, to the end; true when both exit 0.
run_pair() {
    local a=$1 b=$2 ra rb
    shift 2
    start "$a" -i 0 -a "$A2" "$@"
    start "$b" -i 1 -a "$A2" "$@"
    finish "$a"; ra=$?
    finish "$b"; rb=$?
    [ $ra -eq 0 ] && [ $rb -eq 0 ]
}

# pair_ok A I B J N: A (process I) sent N messages to B (process J), all
# arrived in order, intact, with the same checksum.
pair_ok() {
    local a=$1 i=$2 b=$3 j=$4 count=$5 sent recv
    sent=$(sed -n "s/^sent to $j: count=$count checksum=//p" "$T/$a.out")
    recv=$(sed -n "s/^recv from $i: count=$count order=ok content=ok checksum=//p" "$T/$b.out")
    [ -n "$sent" ] && [ "$sent" = "$recv" ]
}

# ------------------------------------------------------------------ a mesh of 2
read -r P0 P1 <<<"$(ports 2)"
A2=$(addrs $P0 $P1)
run_pair p0 p1 -k "$T/key" -n 2000
ok $? "mesh of 2: both processes exit 0" "$T/p0.err" "$T/p1.err"
pair_ok p0 0 p1 1 2000
ok $? "mesh of 2: 2000 messages 0->1 delivered once, in order, checksums match" "$T/p0.out" "$T/p1.out"
pair_ok p1 1 p0 0 2000
ok $? "mesh of 2: 2000 messages 1->0 delivered once, in order, checksums match" "$T/p0.out" "$T/p1.out"

# ------------------------------------------------------------------ a mesh of 3, reverse order
read -r P0 P1 P2 <<<"$(ports 3)"
A3=$(addrs $P0 $P1 $P2)
start q2 -i 2 -a "$A3" -k "$T/key" -n 1000
sleep 0.7
start q1 -i 1 -a "$A3" -k "$T/key" -n 1000
sleep 0.7
start q0 -i 0 -a "$A3" -k "$T/key" -n 1000
finish q0; r0=$?
finish q1; r1=$?
finish q2; r2=$?
[ $r0 -eq 0 ] && [ $r1 -eq 0 ] && [ $r2 -eq 0 ]
ok $? "mesh of 3 started in reverse order: all exit 0" "$T/q0.err" "$T/q1.err" "$T/q2.err"
all=0
for i in 0 1 2; do for j in 0 1 2; do
    [ $i = $j ] && continue
    pair_ok q$i $i q$j $j 1000 || { all=1; echo "# pair $i->$j wrong"; }
done; done
ok $all "mesh of 3: all six directions delivered 1000 messages once, in order" "$T/q0.out" "$T/q1.out" "$T/q2.out"

# ------------------------------------------------------------------ wrong secret, then the right peer
read -r P0 P1 <<<"$(ports 2)"
A2=$(addrs $P0 $P1)
start w0 -i 0 -a "$A2" -k "$T/key" -n 100 -c 20000
sleep 0.3
start bad -i 1 -a "$A2" -k "$T/other.key" -n 100 -c 20000
finish bad; rb=$?
[ $rb -ne 0 ]
ok $? "a process with the wrong secret exits non-zero" "$T/bad.err"
has "$T/bad.err" "dfc: handshake with process 0 \(127\.0\.0\.1:$P0\) failed: wrong cluster secret or not a dfc peer"
ok $? "its stderr names process 0 and says wrong cluster secret" "$T/bad.err"
wait_for "$T/w0.err" "handshake with 127\.0\.0\.1:[0-9]+ failed: wrong cluster secret or not a dfc peer" 3
ok $? "the real peer's stderr names the remote address and says wrong cluster secret" "$T/w0.err"
kill -0 "${PID[w0]}" 2>/dev/null
ok $? "the real peer is still waiting"
start w1 -i 1 -a "$A2" -k "$T/key" -n 100
finish w0; r0=$?
finish w1; r1=$?
[ $r0 -eq 0 ] && [ $r1 -eq 0 ] && pair_ok w0 0 w1 1 100 && pair_ok w1 1 w0 0 100
ok $? "the cluster forms when the right peer arrives afterwards" "$T/w0.err" "$T/w1.err"

# ------------------------------------------------------------------ strangers
read -r P0 P1 <<<"$(ports 2)"
A2=$(addrs $P0 $P1)
start s0 -i 0 -a "$A2" -k "$T/key" -n 100 -c 20000
stranger_ok=1
for ((i = 0; i < 100; i++)); do # the first connection that works sends garbage
    if (exec 3<>"/dev/tcp/127.0.0.1/$P0" && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && sleep 0.1) 2>/dev/null; then
        stranger_ok=0
        break
    fi
    sleep 0.05
done
(exec 3<>"/dev/tcp/127.0.0.1/$P0") 2>/dev/null                  # a port scanner: connect, close
(exec 3<>"/dev/tcp/127.0.0.1/$P0"; sleep 8) 2>/dev/null &       # a stranger that says nothing
silent=$!
sleep 0.2
t0=$(now_ms)
start s1 -i 1 -a "$A2" -k "$T/key" -n 100
finish s1; r1=$?
t1=$(now_ms)
finish s0; r0=$?
kill "$silent" 2>/dev/null; wait "$silent" 2>/dev/null
[ $stranger_ok -eq 0 ]; ok $? "a stranger could connect to a waiting process"
has "$T/s0.err" "dfc: handshake with 127\.0\.0\.1:[0-9]+ failed: not a dfc peer \(it sent \"GET / HT\"\) \(connection dropped\)"
ok $? "garbage bytes are reported with the remote address and dropped" "$T/s0.err"
has "$T/s0.err" "dfc: handshake with 127\.0\.0\.1:[0-9]+ failed: connection closed before a hello"
ok $? "a connect-then-close client is reported with the remote address" "$T/s0.err"
[ $r0 -eq 0 ] && [ $r1 -eq 0 ] && pair_ok s0 0 s1 1 100 && pair_ok s1 1 s0 0 100
ok $? "the mesh still forms after the strangers" "$T/s0.err" "$T/s1.err"
[ $((t1 - t0)) -lt 4000 ]
ok $? "a silent stranger does not hold up the real peer (took $((t1 - t0)) ms)"

# ------------------------------------------------------------------ mismatched flags
read -r P0 P1 <<<"$(ports 2)"
A2=$(addrs $P0 $P1)
start m0 -i 0 -a "$A2" -k "$T/key" -w 2 -c 20000
sleep 0.3
start m1 -i 1 -a "$A2" -k "$T/key" -w 3 -c 20000
finish m1
[ $? -ne 0 ] && has "$T/m1.err" "failed: peer runs with -w 2, this process with -w 3"
ok $? "different -w: the dialer exits non-zero naming both values" "$T/m1.err"
start f1 -i 1 -a "$A2" -k "$T/key" -w 2 -f other-flow -c 20000
finish f1
[ $? -ne 0 ] && has "$T/f1.err" "failed: peer runs a different dataflow \(fingerprint [0-9a-f]{8}… here, [0-9a-f]{8}… on the peer\)"
ok $? "different flow: the dialer exits non-zero naming both fingerprints" "$T/f1.err"
wait_for "$T/m0.err" "failed: peer runs a different dataflow" 3 && has "$T/m0.err" "failed: peer runs with -w 3, this process with -w 2"
ok $? "the listener reports both and keeps waiting" "$T/m0.err"
sig m0 KILL; finish m0

# ------------------------------------------------------------------ two processes with the same -i
read -r P0 P1 P2 <<<"$(ports 3)"
A3=$(addrs $P0 $P1 $P2)
start d0 -i 0 -a "$A3" -k "$T/key" -n 100 -c 20000
start d1 -i 1 -a "$A3" -k "$T/key" -n 100 -c 20000
sleep 1
start dup -i 1 -a "$A3" -k "$T/key" -n 100 -b 127.0.0.1:0 -c 5000
finish dup
[ $? -ne 0 ] && has "$T/dup.err" "process 0 \(127\.0\.0\.1:$P0\) refused this process: process 1 is already connected from 127\.0\.0\.1:[0-9]+ \(two processes started with -i 1\?\)"
ok $? "a second process with -i 1 is refused, and told why" "$T/dup.err"
has "$T/d0.err" "refused process 1 at 127\.0\.0\.1:[0-9]+: process 1 is already connected"
ok $? "process 0 reports the duplicate" "$T/d0.err"
start d2 -i 2 -a "$A3" -k "$T/key" -n 100
finish d0; r0=$?
finish d1; r1=$?
finish d2; r2=$?
[ $r0 -eq 0 ] && [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && pair_ok d1 1 d0 0 100 && pair_ok d2 2 d1 1 100
ok $? "the real cluster still forms" "$T/d0.err" "$T/d1.err" "$T/d2.err"

# ------------------------------------------------------------------ a peer killed mid-stream
read -r P0 P1 <<<"$(ports 2)"
A2=$(addrs $P0 $P1)
start k0 -i 0 -a "$A2" -k "$T/key" -s 3000 --forever
start k1 -i 1 -a "$A2" -k "$T/key" -s 3000 --forever
wait_for "$T/k0.out" "mesh up" 10 && wait_for "$T/k1.out" "mesh up" 10
ok $? "a streaming mesh forms" "$T/k0.err" "$T/k1.err"
sleep 0.5
t0=$(now_ms)
sig k1 KILL; finish k1
finish k0; r0=$?
t1=$(now_ms)
[ $r0 -ne 0 ]
ok $? "SIGKILL of process 1: process 0 exits non-zero" "$T/k0.err"
has "$T/k0.err" "dfc: connection to process 1 \(127\.0\.0\.1:$P1\) broken: "
ok $? "its message names process 1 and its address" "$T/k0.err"
[ $((t1 - t0)) -lt 4000 ]
ok $? "within the stall bound (took $((t1 - t0)) ms)"

# ------------------------------------------------------------------ a stalled peer
read -r P0 P1 <<<"$(ports 2)"
A2=$(addrs $P0 $P1)
start t0 -i 0 -a "$A2" -k "$T/key" -s 2000 --forever
start t1 -i 1 -a "$A2" -k "$T/key" -s 2000 --forever
wait_for "$T/t0.out" "mesh up" 10 && wait_for "$T/t1.out" "mesh up" 10
sleep 0.3
ts=$(now_ms)
sig t1 STOP
finish t0; r0=$?
te=$(now_ms)
sig t1 KILL; sig t1 CONT; finish t1
[ $r0 -ne 0 ] && has "$T/t0.err" "dfc: connection to process 1 \(127\.0\.0\.1:$P1\) broken: nothing received for 2 s"
ok $? "a stopped peer is reported as stalled, by id and address" "$T/t0.err"
[ $((te - ts)) -ge 1500 ] && [ $((te - ts)) -lt 6000 ]
ok $? "after about the 2 s stall timeout (took $((te - ts)) ms)"

# ------------------------------------------------------------------ connect timeout
read -r P0 P1 P2 P3 <<<"$(ports 4)"
A2=$(addrs $P0 $P1)
start c0 -i 0 -a "$A2" -k "$T/key" -c 1500
start c9 -i 1 -a "$(addrs $P2 $P3)" -k "$T/key" -c 1000 # nobody listens on P2
finish c0; r0=$?
finish c9; r9=$?
[ $r0 -ne 0 ] && has "$T/c0.err" "^dfc: process 1 \(127\.0\.0\.1:$P1\) did not connect within 1\.5 s$"
ok $? "a listener names the missing peer when the connect timeout expires" "$T/c0.err"
[ $r9 -ne 0 ] && has "$T/c9.err" "^dfc: process 0 \(127\.0\.0\.1:$P2\) did not connect within 1 s \(last attempt: Connection refused\)"
ok $? "a dialer names the missing peer and the last error" "$T/c9.err"

# ------------------------------------------------------------------ secret files
printf 'not a key\n' >"$T/junk.key"
"$NET_PEER" -i 0 -a "127.0.0.1:1;127.0.0.1:2" -k "$T/junk.key" 2>"$T/junk.err"
[ $? -ne 0 ] && has "$T/junk.err" "must hold 64 hex digits \(as printed by dfc keygen\) or exactly 32 raw bytes; it holds 10 bytes"
ok $? "a malformed secret file is refused with a clear message" "$T/junk.err"
head -c 32 /dev/urandom >"$T/raw.key"
read -r P0 P1 <<<"$(ports 2)"
A2=$(addrs $P0 $P1)
run_pair r0 r1 -k "$T/raw.key" -n 10
ok $? "a 32-byte raw secret file works" "$T/r0.err" "$T/r1.err"

# ------------------------------------------------------------------ sanitizers
# (NET_PEER built with -fsanitize=...: nothing reported by any process)
! grep -lE "Sanitizer|runtime error:" "$T"/*.err
ok $? "no sanitizer reports from any process"

echo "1..$n"
[ $failed -eq 0 ]
