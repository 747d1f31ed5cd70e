#!/usr/bin/env bash
# CLI tests of `einc lint` through the real binary: the samples, output formats, code selection,
# configuration, and a tree of bad input (syntax errors, non-UTF-8, binary, huge, read-only and
# unreadable files, symlink loops) that must give clear per-file errors while the rest is linted
# and fixed, with nothing written half-way, and a second --fix run that finds nothing to fix.
# usage: lint_cli.sh EINC SAMPLES_DIR
set -uo pipefail
EINC=$1
SAMPLES=$2
PY=/usr/bin/python3
fails=0
tmp=$(mktemp -d)
trap 'chmod -R u+rwX "$tmp"; rm -rf "$tmp"' EXIT

check() { # check NAME CONDITION...
  local name=$1
  shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}

# -- the samples: the GDN flatten rewrite at its three call sites
cp -r "$SAMPLES" "$tmp/samples"
(cd "$tmp" && "$EINC" lint --no-config --diff samples >"$tmp/diff.out" 2>"$tmp/diff.err")
rc=$?
check "samples --diff exits 1" test $rc -eq 1
check "samples --diff shows the flatten rewrite 3 times" \
  test "$(grep -c '^+        core_attn_out = core_attn_out.flatten(-2)  # \.\.\. h d -> \.\.\. (h d)$' "$tmp/diff.out")" -eq 3
check "samples --diff drops the unused einops import" grep -q '^-from einops import rearrange$' "$tmp/diff.out"
check "samples --diff writes nothing" diff -r "$SAMPLES" "$tmp/samples"
# a file that cannot be linted: its error goes to stderr, the diff (stdout) stays a diff
mkdir -p "$tmp/mixed" && cp "$tmp/samples/attention.py" "$tmp/mixed/" &&
  printf 'import einops\n\xff\n' >"$tmp/mixed/latin1.py"
"$EINC" lint --no-config --diff "$tmp/mixed" >"$tmp/mixed.out" 2>"$tmp/mixed.err"
check "--diff: a file's error on stderr, not in the diff" bash -c "
  grep -q 'latin1.py: error: not valid UTF-8' '$tmp/mixed.err' && ! grep -q 'error' '$tmp/mixed.out' &&
  grep -q '^+++ ' '$tmp/mixed.out'"

# -- formats
"$EINC" lint --no-config --format json "$tmp/samples" >"$tmp/out.json"
check "json parses, one object per finding with the documented keys" $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d) >= 10, len(d)
keys = {"file", "line", "column", "end_line", "end_column", "code", "message", "op", "pattern",
        "axis_sizes", "fix"}
assert all(keys <= set(f) for f in d)
heads = [f for f in d if f["pattern"] == "b n (h d) -> b h n d"]
assert heads and heads[0]["axis_sizes"] == {"h": "heads"}, heads
assert heads[0]["fix"]["safety"] == "safe"
' "$tmp/out.json"
# Each fix in the JSON stands on its own: applied alone it must leave a file that runs, so the
# einops import goes with no fix while another call still uses it, and `import torch` comes
# with every fix that needs it.
mkdir -p "$tmp/alone"
printf 'from einops import einsum\n\n\ndef f(a, b):\n    x = einsum(a, b, "i j, j k -> i k")\n    return x, einsum(b, a, "i j, j k -> i k")\n' >"$tmp/alone/two.py"
"$EINC" lint --no-config --format json "$tmp/alone/two.py" >"$tmp/alone.json"
check "json: each fix applied alone leaves a working file" $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d) == 2, d
src = open(sys.argv[2]).read().splitlines(keepends=True)
for f in d:
    edits = f["fix"]["edits"]
    assert not any("einops" in e["content"] or (e["content"] == "" and e["line"] < 3) for e in edits), edits
    assert any(e["content"] == "import torch\n" for e in edits), edits
' "$tmp/alone.json" "$tmp/alone/two.py"
"$EINC" lint --no-config --fix "$tmp/alone/two.py" >/dev/null 2>&1
check "json case: --fix adds torch once and drops the import" bash -c "
  [ \"\$(grep -c '^import torch' '$tmp/alone/two.py')\" = 1 ] && ! grep -q einops '$tmp/alone/two.py'"
"$EINC" lint --no-config --format sarif "$tmp/samples" >"$tmp/out.sarif"
check "sarif 2.1.0 parses with results and rules" $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["version"] == "2.1.0"
run = d["runs"][0]
assert run["results"] and run["tool"]["driver"]["rules"]
assert all(r["ruleId"].startswith("EIN") for r in run["results"])
' "$tmp/out.sarif"
"$EINC" lint --no-config --format text "$tmp/samples/attention.py" >"$tmp/out.txt" 2>/dev/null
check "text: path:line:col: CODE, source line and caret" \
  grep -q '^.*attention.py:56:39: EIN102 invalid rearrange pattern \[identifiers_one_side\]' "$tmp/out.txt"
check "text: caret under the offending axis" grep -q '^      |                                       \^$' "$tmp/out.txt"

# -- selection, suppression, configuration
"$EINC" lint --no-config --select EIN2 --format json "$tmp/samples" >"$tmp/sel.json"
check "--select EIN2 keeps only non-literal patterns" $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d and {f["code"] for f in d} == {"EIN201", "EIN202"}, d
' "$tmp/sel.json"
"$EINC" lint --no-config --ignore EIN001,EIN002,EIN003,EIN004,EIN010,EIN1,EIN2 "$tmp/samples" \
  >/dev/null 2>&1
check "--ignore everything found exits 0" test $? -eq 0
"$EINC" lint --no-config --select EIN999 "$tmp/samples" >/dev/null 2>&1
check "unknown code is a usage error" test $? -eq 2
mkdir -p "$tmp/proj/src" "$tmp/proj/vendor"
printf 'from einops import rearrange\ny = rearrange(x, "a b -> b a")\n' >"$tmp/proj/src/m.py"
cp "$tmp/proj/src/m.py" "$tmp/proj/vendor/v.py"
printf '[project]\nname = "p"\n\n[tool.einc]\nexclude = ["vendor"]\nignore = [\n  "EIN2",\n]\ntarget = "numpy"\n' \
  >"$tmp/proj/pyproject.toml"
(cd "$tmp/proj" && "$EINC" lint --diff . >"$tmp/proj.out" 2>&1)
check "pyproject: exclude honoured" bash -c "! grep -q vendor '$tmp/proj.out'"
check "pyproject: target numpy" grep -q 'x.swapaxes(0, 1)' "$tmp/proj.out"

# -- partial parsing: only the top-level statements naming einops are parsed; the findings must
# be those of a whole-file parse, whatever the statements around them look like
mkdir -p "$tmp/part"
{
  printf 'import torch\nimport einops as E\nfrom einops import rearrange as r\n'
  for i in $(seq 1 40); do
    printf '\n\n@decorate(x="rearrange(")\ndef f%d(x, h):\n    """Docstring with r(x, "a b -> b a") inside.\n    """\n' "$i"
    printf '    s = (\n"... h d -> ... (h d)")\n    y = r(x, "... h d -> ... (h d)")  # einc: ignore[EIN002]\n'
    printf '    return E.reduce(y, "b c -> b", "sum") + \\\n        r(x, s)\n'
    printf '\n\nif f%d:\n    z = 1\nelse:\n    z = r(torch.ones(2, 3), "a b -> b a")\n' "$i"
    printf "\nclass C%d:\n    x = [\n1,\n]\n    text = '''\nimport einops\n'''\n" "$i"
  done
} >"$tmp/part/big.py"
"$EINC" lint --no-config --format json "$tmp/part" >"$tmp/part.json" 2>/dev/null
"$EINC" lint --no-config --format json --full-parse "$tmp/part" >"$tmp/full.json" 2>/dev/null
check "partial parse finds what a full parse finds" cmp -s "$tmp/part.json" "$tmp/full.json"
check "partial parse: findings present" test "$(grep -c '"code":"EIN' "$tmp/part.json")" -ge 160
"$EINC" lint --no-config --diff "$tmp/part" >"$tmp/part.diff" 2>/dev/null
"$EINC" lint --no-config --diff --full-parse "$tmp/part" >"$tmp/full.diff" 2>/dev/null
check "partial parse gives the same fixes" cmp -s "$tmp/part.diff" "$tmp/full.diff"
# the same with CRLF line ends and a line continuation before a line at column 0
mkdir -p "$tmp/partcr"
{
  printf 'from einops import \\\nrearrange as r2\nimport torch\n'
  for i in $(seq 1 100); do printf '\n\ndef g%d(x):\n    return x + 1\n' "$i"; done
  printf 'y = r2(x, "a b -> b a")\n'
} | sed 's/$/\r/' >"$tmp/partcr/big.py"
"$EINC" lint --no-config --format json "$tmp/partcr" >"$tmp/partcr.json" 2>/dev/null
"$EINC" lint --no-config --format json --full-parse "$tmp/partcr" >"$tmp/fullcr.json" 2>/dev/null
check "partial parse of a CRLF file finds what a full parse finds" \
  cmp -s "$tmp/partcr.json" "$tmp/fullcr.json"
check "partial parse of a CRLF file: the call found, no syntax error" \
  bash -c "grep -q EIN001 '$tmp/partcr.json' && ! grep -q EIN900 '$tmp/partcr.json'"

# -- line endings, byte order mark, wide characters: a fix keeps the file's conventions
enc=$tmp/enc
mkdir -p "$enc"
printf 'from einops import einsum\r\n\r\ndef f(a, b):\r\n    return einsum(a, b, "i j, j k -> i k")\r\n' \
  >"$enc/crlf.py"
printf '\xef\xbb\xbffrom einops import einsum\n\ndef f(a, b):\n    return einsum(a, b, "i j, j k -> i k")\n' \
  >"$enc/bom.py"
printf '\xef\xbb\xbfx = 1; from einops import rearrange as r; y = r(x, "a b -> b a")\r\n' >"$enc/bom1.py"
printf 'from einops import rearrange\ns = "日本"; y = rearrange(x, "a b -> b a")\n' >"$enc/wide.py"
"$EINC" lint --no-config --format json "$enc/bom1.py" >"$tmp/bom1.json" 2>/dev/null
check "byte order mark takes no column" grep -q '"line":1,"column":47,' "$tmp/bom1.json"
"$EINC" lint --no-config "$enc/bom1.py" "$enc/wide.py" >"$tmp/enc.txt" 2>/dev/null
check "text: no CR in the source line shown" bash -c "! grep -q $'\r' '$tmp/enc.txt'"
check "text: caret under the call after wide characters" \
  grep -q '^      |                 ^'"$(printf '~%.0s' $(seq 25))"'$' "$tmp/enc.txt"
"$EINC" lint --no-config --fix "$enc" >/dev/null 2>&1
check "crlf: every line of the fixed file ends in CRLF, the added import's too" $PY -c '
import sys
b = open(sys.argv[1], "rb").read()
assert b.startswith(b"import torch\r\n") and b.count(b"\n") == b.count(b"\r\n"), b
assert b"\r\n    return torch.einsum(\"ab,bc->ac\", a, b)  # i j, j k -> i k\r\n" in b, b
' "$enc/crlf.py"
check "bom: kept, the import added after it, the einops import dropped" $PY -c '
import sys
b = open(sys.argv[1], "rb").read()
assert b.startswith(b"\xef\xbb\xbfimport torch\n\n") and b"einops" not in b, b
' "$enc/bom.py"
check "line endings and byte order mark: fixed files parse" $PY -c '
import ast, sys
for f in sys.argv[1:]:
    ast.parse(open(f, "rb").read())
' "$enc/crlf.py" "$enc/bom.py" "$enc/bom1.py"
"$EINC" lint --no-config --fix "$enc" >"$tmp/enc2.out" 2>&1
check "line endings and byte order mark: second --fix fixes nothing" \
  grep -q '^Fixed 0 findings in 0 files.$' "$tmp/enc2.out"

# -- many findings in one file: positions, nesting checks and the diff stay near linear
{
  printf 'import torch\nfrom einops import rearrange, reduce\n'
  for i in $(seq 1 4000); do
    printf 'def f%d(x):\n    y = rearrange(x, "b (h d) -> b h d", h=2)\n    return reduce(y, "b h d -> b d", "sum")\n\n' "$i"
  done
} >"$tmp/many.py"
cp "$tmp/many.py" "$tmp/many_fixed.py"
timeout 60 "$EINC" lint --no-config --diff "$tmp/many.py" >"$tmp/many.diff" 2>/dev/null
check "many findings: --diff finishes" test $? -eq 1
timeout 60 "$EINC" lint --no-config --format json "$tmp/many.py" >/dev/null 2>&1
check "many findings: json finishes" test $? -eq 1
timeout 60 "$EINC" lint --no-config --fix "$tmp/many_fixed.py" >/dev/null 2>&1
(cd "$tmp" && patch -s many.py <many.diff)
check "many findings: the diff applies and gives the fixed file" cmp -s "$tmp/many.py" "$tmp/many_fixed.py"

# -- one file under two paths: linted once; a fix through a symlink writes the file it names
two=$tmp/two
mkdir -p "$two/sub"
printf 'from einops import rearrange\ny = rearrange(x, "a b -> b a")\n' >"$two/target.py"
chmod 640 "$two/target.py"
ln -s target.py "$two/link.py"
ln -s ../target.py "$two/sub/up.py"
"$EINC" lint --no-config --format json "$two" "$two/target.py" "$two/./target.py" \
  >"$tmp/two.json" 2>/dev/null
check "one file under several paths is linted once" \
  test "$(grep -c '"code":"EIN001"' "$tmp/two.json")" -eq 1
"$EINC" lint --no-config --fix "$two/link.py" >/dev/null 2>&1
check "--fix through a symlink keeps the link" test -L "$two/link.py"
check "--fix through a symlink fixes its target" grep -q 'x.transpose(1, 0)' "$two/target.py"
check "--fix through a symlink keeps the target's mode" test "$(stat -c %a "$two/target.py")" = 640
check "--fix through a symlink leaves no temporary file" test -z "$(find "$two" -name '*.einc*')"

# -- bad input
bad=$tmp/bad
mkdir -p "$bad/sub"
printf 'import torch\nfrom einops import rearrange\n\n\ndef f(x):\n    return rearrange(x, "... h d -> ... (h d)")\n' >"$bad/good.py"
printf 'from einops import rearrange\n\ndef f(x):\n    return rearrange(x, "a b -> b a")\n\ndef g(:\n' >"$bad/syntax.py"
printf 'from einops import rearrange\n# caf\xe9\ny = rearrange(x, "a b -> b a")\n' >"$bad/latin1.py"
printf 'import einops\x00\x01\x02' >"$bad/binary.py"
printf 'from einops import rearrange\ny = rearrange(x, "a b -> b a")\n' >"$bad/huge.py"
truncate -s 40M "$bad/huge.py"
printf 'from einops import rearrange\ny = rearrange(x, "a b -> b a")\n' >"$bad/readonly.py"
chmod 444 "$bad/readonly.py"
cp "$bad/readonly.py" "$bad/readonly.orig"
printf 'from einops import rearrange\ny = rearrange(x, "a b -> b a")\n' >"$bad/ignored.py"
printf 'ignored.py\n*.orig\n' >"$bad/.gitignore"
ln -s .. "$bad/sub/loop"
ln -s missing.py "$bad/dangling.py"
ln -s self.py "$bad/self.py"
"$EINC" lint --no-config "$bad/syntax.py" >"$tmp/syntax.out" 2>&1
check "bad input: syntax error reported" grep -q 'syntax.py:6:.*EIN900 syntax error' "$tmp/syntax.out"
"$EINC" lint --no-config --fix "$bad" >"$tmp/bad.out" 2>&1
rc=$?
cat "$tmp/bad.out"
check "bad input: exit 2" test $rc -eq 2
check "bad input: non-UTF-8 reported" grep -q 'latin1.py: error: not valid UTF-8 (byte 0xe9 at line 2' "$tmp/bad.out"
check "bad input: binary reported" grep -q 'binary.py: error: binary file' "$tmp/bad.out"
check "bad input: huge file reported" grep -q 'huge.py: error: file too large' "$tmp/bad.out"
check "bad input: read-only file not written" grep -q 'readonly.py: error: fixes not written (the file is read-only)' "$tmp/bad.out"
check "bad input: read-only file unchanged" cmp -s "$bad/readonly.py" "$bad/readonly.orig"
"$EINC" lint --no-config --fix "$bad/readonly.py" >"$tmp/ro.out" 2>&1
check "read-only file: its findings count as remaining" \
  grep -q '^Found 1 remaining finding in 1 file.$' "$tmp/ro.out"
check "bad input: symlink loop reported" grep -q 'sub/loop: error: symlink loop' "$tmp/bad.out"
check "bad input: self-referencing link reported" grep -q 'self.py: error: symlink loop' "$tmp/bad.out"
check "bad input: dangling link reported" grep -q 'dangling.py: error: no such file' "$tmp/bad.out"
check "bad input: .gitignore honoured" bash -c "! grep -q ignored.py '$tmp/bad.out'"
check "bad input: good file fixed" grep -q 'return x.flatten(-2)  # ... h d -> ... (h d)' "$bad/good.py"
check "bad input: syntax error file fixed outside the error" grep -q 'return x.transpose(1, 0)' "$bad/syntax.py"
check "bad input: no temporary files left" test -z "$(find "$bad" -name '*.einc*')"
if [ "$(id -u)" -ne 0 ]; then
  printf 'import einops\n' >"$bad/secret.py"
  chmod 000 "$bad/secret.py"
  "$EINC" lint --no-config "$bad/secret.py" >"$tmp/secret.out" 2>&1
  check "unreadable file reported" grep -q 'secret.py: error: cannot open: Permission denied' "$tmp/secret.out"
  chmod 644 "$bad/secret.py"
  rm "$bad/secret.py"
else
  echo "skip unreadable file (running as root, which reads any file)"
fi
"$EINC" lint --no-config --fix "$bad" >"$tmp/bad2.out" 2>&1
check "second --fix run fixes nothing" grep -q '^Fixed 0 findings in 0 files.$' "$tmp/bad2.out"
"$EINC" lint --no-config --fix "$tmp/samples" >/dev/null 2>&1
"$EINC" lint --no-config --fix "$tmp/samples" >"$tmp/s2.out" 2>&1
check "samples: second --fix run fixes nothing" grep -q '^Fixed 0 findings in 0 files.$' "$tmp/s2.out"
check "samples: fixed files compile" $PY -m py_compile "$tmp/samples/gated_deltanet.py" "$tmp/samples/attention.py"
check "samples: import dropped after the last use" bash -c "! grep -q 'import.*einops' '$tmp/samples/gated_deltanet.py'"

echo "$fails failed"
exit $((fails > 0))
