"""
Conformance cases (JSON lines, corpus schema) -> the plain lines test_gen_cuda_corpus reads, so
that the GPU test needs no JSON library: the valid rearrange / reduce / repeat cases with integer
keyword lengths, one a line, tab-separated:

    id  op  dtype  reduction|-  d0,d1,...  name=len,...|-  pattern

usage: python3 corpus_lines.py OUT CASES.jsonl...
"""
import json
import sys


def main():
    n = 0
    with open(sys.argv[1], "w") as out:
        for path in sys.argv[2:]:
            with open(path) as f:
                for line in f:
                    c = json.loads(line)
                    if c["op"] not in ("rearrange", "reduce", "repeat") or not c["expect"]["ok"]:
                        continue
                    kw = c.get("axes_lengths", {})
                    if any(type(v) is not int for v in kw.values()):
                        continue
                    if "\t" in c["pattern"] or "\n" in c["pattern"]:
                        continue
                    x = c["inputs"][0]
                    out.write("\t".join([
                        c["id"], c["op"], x.get("dtype", "float64"), c.get("reduction") or "-",
                        ",".join(str(d) for d in x["shape"]),
                        ",".join("%s=%d" % kv for kv in kw.items()) or "-", c["pattern"]]) + "\n")
                    n += 1
    print("%d cases written to %s" % (n, sys.argv[1]))


if __name__ == "__main__":
    main()
