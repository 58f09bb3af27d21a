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
done_testing
