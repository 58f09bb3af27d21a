#!/usr/bin/env bash
# examples.t — every example compiles, and its output equals a result computed
# independently (shell tools, perl, or by hand from the small data file), for
# -w1, -w2 and -w4; output order between workers is not defined, so lines are
# sorted before comparing.
. "$(dirname "$0")/lib/tap.sh"
cd "$ROOT"

for ex in simple wordcount temperatures vowels; do compile "$ex" "examples/$ex.flow"; done

want=$(seq 0 9 | awk '{ print $1 * 2 }' | sort)
want_big=$(seq 0 99999 | awk '{ print $1 * 2 }' | sort)
for w in 1 2 4; do
  is "$("$T/simple" -w$w | sort)" "$want" "simple -w$w: 0..9 doubled"
  is "$("$T/simple" -w$w n=100000 | sort)" "$want_big" "simple -w$w n=100000"
done
is "$("$T/simple")" "$(seq 0 9 | awk '{ print $1 * 2 }')" "simple -w1 keeps source order"

want=$(tr -s ' ' '\n' < examples/data/words.txt | grep -v '^$' | sort | uniq -c | awk '{ print $2 " " $1 }' | sort)
for w in 1 2 4; do
  is "$("$T/wordcount" -w$w | sort)" "$want" "wordcount -w$w equals tr | sort | uniq -c"
done

# By hand from examples/data/readings.csv: rows "cellar,not-a-number" and
# "garden," do not parse and are dropped; the limit is 25.0 by default.
want=$(sort <<'END'
ok kitchen 21.5
hot attic 31.0
ok garden, north 18.25
hot attic 35.5
hot kitchen 26.0
max kitchen 26.0
max attic 35.5
max garden, north 18.25
END
)
for w in 1 2 4; do
  is "$("$T/temperatures" -w$w | sort)" "$want" "temperatures -w$w"
done
got=$("$T/temperatures" limit=30 | grep -c '^hot')
is "$got" "2" "temperatures limit=30: two hot readings"

want=$(perl -ne 'for my $w (split " ") {
    my $l = lc substr($w, 0, 1); my $v = () = $w =~ /[aeiou]/gi;
    if (!exists $b{$l} || $v > $n{$l} || ($v == $n{$l} && $w lt $b{$l})) { $b{$l} = $w; $n{$l} = $v }
  } END { print "$_ $b{$_} $n{$_}\n" for keys %b }' examples/data/words.txt | sort)
for w in 1 2 4; do
  is "$("$T/vowels" -w$w | sort)" "$want" "vowels -w$w (extern C function) equals a perl reference"
done

done_testing
