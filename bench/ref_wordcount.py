# ref_wordcount.py — reference for the "wordcount" figure: a plain Python 3
# dict loop over the words of a file (decoded as UTF-8 text, as a Python stream
# processor such as Bytewax would hand them to user code).  A lower bound on
# what a Python stream processor costs per item.  Prints "word count" lines.
#   python3 ref_wordcount.py words.txt > counts.txt
import sys

counts = {}
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        for w in line.split():
            counts[w] = counts.get(w, 0) + 1
out = sys.stdout
for w, n in counts.items():
    out.write(f"{w} {n}\n")
