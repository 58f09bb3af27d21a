# cluster.sh — background processes on 127.0.0.1 for tests/cluster.t and
# tests/net.t (sourced once the scratch directory $T is set; needs bash).
#   spawn NAME SECONDS CMD...   CMD in the background under `timeout -s KILL
#                               SECONDS` (its own process group, so
#                               kill -- -${PID[NAME]} reaches CMD too),
#                               output in $T/NAME.{out,err}
#   finish NAME                 waits; the exit status, also in $T/NAME.rc
#   ports N                     N free ports;  addrs P0 P1 ...  "127.0.0.1:P0;..."
#   wait_for FILE REGEX SECONDS polls until FILE matches;  now_ms
# At exit every process still in PID is killed and reaped, and $T removed.

declare -A PID=()
cleanup() {
    for name in "${!PID[@]}"; do kill -9 -- "-${PID[$name]}" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

# Free ports on 127.0.0.1: bind port 0, note the port, close.
ports() {
    perl -MIO::Socket::INET -e 'my @s = map { IO::Socket::INET->new(Listen => 1,
        LocalAddr => "127.0.0.1", LocalPort => 0, ReuseAddr => 1) or die } 1..$ARGV[0];
        print join(" ", map { $_->sockport } @s), "\n"' "$1"
}
addrs() { # addrs P0 P1 ...: "127.0.0.1:P0;127.0.0.1:P1;..."
    local a="" p
    for p in "$@"; do a="$a${a:+;}127.0.0.1:$p"; done
    echo "$a"
}
spawn() {
    local name=$1 secs=$2
    shift 2
    timeout -s KILL "$secs" "$@" >"$T/$name.out" 2>"$T/$name.err" &
    PID[$name]=$!
}
finish() {
    local rc
    wait "${PID[$1]}"
    rc=$?
    unset "PID[$1]"
    echo $rc >"$T/$1.rc"
    return $rc
} 2>/dev/null # also hides bash's "Killed" notices for the killed processes
wait_for() { # FILE REGEX SECONDS
    local i
    for ((i = 0; i < $3 * 20; i++)); do
        grep -qE -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
now_ms() { date +%s%3N; }
