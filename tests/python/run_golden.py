"""Golden tests of `einc lint` rewrites, run through the real binary.

usage: run_golden.py EINC GOLDEN_DIR     (EINC_GOLDEN_UPDATE=1 rewrites the expected parts)

Each GOLDEN_DIR/*.golden file holds one fix kind, input and expected output side by side:

    #### args: --diff [more options]
    #### input: NAME.py
    ...python source...
    #### expected
    ...what `einc lint --no-config ARGS NAME.py` prints on stdout...

Besides comparing the output, each case is fixed in place with the same options plus --fix and
linted again: the second run must find nothing left to fix and print an empty diff.
"""
import os
import subprocess
import sys
import tempfile


def parse(path):
    args, name, src, exp, part = [], None, [], [], None
    with open(path) as f:
        for line in f:
            if line.startswith("#### args:"):
                args = line[len("#### args:"):].split()
            elif line.startswith("#### input:"):
                name, part = line[len("#### input:"):].strip(), src
            elif line.startswith("#### expected"):
                part = exp
            elif part is not None:
                part.append(line)
    return args, name, "".join(src), "".join(exp)


def run(einc, args, cwd):
    p = subprocess.run([einc, "lint", "--no-config"] + args, cwd=cwd, capture_output=True,
                       text=True)
    return p.returncode, p.stdout, p.stderr


def main():
    einc, root = sys.argv[1], sys.argv[2]
    update = os.environ.get("EINC_GOLDEN_UPDATE") == "1"
    failed = 0
    files = sorted(f for f in os.listdir(root) if f.endswith(".golden"))
    for fname in files:
        path = os.path.join(root, fname)
        args, name, src, expected = parse(path)
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, name), "w") as f:
                f.write(src)
            rc, out, err = run(einc, args + [name], tmp)
            if rc == 2:
                print("FAIL %s: exit 2\n%s" % (fname, err))
                failed += 1
                continue
            if update and out != expected:
                with open(path) as f:
                    text = f.read()
                head = text[: text.index("#### expected")]
                with open(path, "w") as f:
                    f.write(head + "#### expected\n" + out)
                print("updated %s" % fname)
            elif out != expected:
                print("FAIL %s: output differs\n--- expected\n%s--- got\n%s" % (fname, expected,
                                                                               out))
                failed += 1
                continue
            # Fix in place, then a second run has nothing left to fix.
            fix_args = [a for a in args if a != "--diff"] + ["--fix", name]
            rc, out, err = run(einc, fix_args, tmp)
            if rc == 2:
                print("FAIL %s: --fix exit 2\n%s" % (fname, err))
                failed += 1
                continue
            rc, out2, err2 = run(einc, [a for a in args if a != "--diff"] + ["--diff", name],
                                 tmp)
            if out2 or "Would fix 0 findings" not in err2:
                print("FAIL %s: a second run still fixes:\n%s%s" % (fname, out2, err2))
                failed += 1
                continue
            # The fixed file must still be valid Python.
            with open(os.path.join(tmp, name)) as f:
                fixed = f.read()
            try:
                compile(fixed, name, "exec")
            except SyntaxError as e:
                if "syntax_error" not in fname:
                    print("FAIL %s: fixed file does not compile: %s" % (fname, e))
                    failed += 1
                    continue
            print("ok   %s" % fname)
    print("%d passed, %d failed" % (len(files) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
