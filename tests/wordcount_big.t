#!/usr/bin/env bash
# wordcount_big.t — wordcount on a generated text of a few MB (fixed seed)
# gives exactly the counts of `tr -s ' ' '\n' | sort | uniq -c`, as the same
# multiset for -w1, -w2 and -w4, with both the ordered and the parallel file
# source.
. "$(dirname "$0")/lib/tap.sh"
cd "$ROOT"

perl -e 'srand(7); my @v = map { join "", map { chr(97 + int(rand(26))) } 1 .. (1 + int(rand(9))) } 1 .. 5000;
  for (1 .. 60000) { print join(" ", map { $v[int(rand(@v) * rand())] } 1 .. (1 + int(rand(14)))), "\n" }' > "$T/text.txt"
diag "input: $(wc -c < "$T/text.txt") bytes"

want=$(tr -s ' ' '\n' < "$T/text.txt" | grep -v '^$' | sort | uniq -c | awk '{ print $2 " " $1 }' | sort)
compile wc examples/wordcount.flow
sed 's/file(input, parallel = true)/file(input)/' examples/wordcount.flow > "$T/ordered.flow"
compile wco "$T/ordered.flow"
for w in 1 2 4; do
  is "$("$T/wc" -w$w input="$T/text.txt" | sort)" "$want" "parallel file source -w$w"
  is "$("$T/wco" -w$w input="$T/text.txt" | sort)" "$want" "ordered file source -w$w"
done
# The parallel source of wordcount feeds only steps that cannot tell the
# order of its lines, so each process's workers take its range in chunks
# (1 MiB at the smallest: a few per worker here); two processes split the
# file first.
is "$(timeout 60 "$T/wc" -p 2 -w 2 input="$T/text.txt" | sort)" "$want" "parallel file source -p 2 -w 2"

# A step that shows the order (here the output itself) keeps one range per
# worker, read in order: 8-digit lines 1..1000000 (9 MB) at -w2 are two
# ranges of 500000 lines, and each range's lines come out in order.
seq -f '%08g' 1 1000000 > "$T/numbers.txt"
flow lines <<'END'
param input: str = ""
input file(input, parallel = true) | output stdout
END
for conf in "-w2" "-w3" "-p 2 -w 2"; do
  parts=${conf##* }; parts=${parts#-w}
  [ "$conf" = "-p 2 -w 2" ] && parts=4
  got=$(timeout 60 "$T/lines" $conf input="$T/numbers.txt" | awk -v parts="$parts" '
    { r = int(($1 - 1) * parts / 1000000); if ($1 + 0 <= last[r]) bad++; last[r] = $1 + 0; n++ }
    END { print n " lines, " bad + 0 " out of order" }')
  is "$got" "1000000 lines, 0 out of order" "parallel file to stdout $conf: each worker's range in order"
done
done_testing
