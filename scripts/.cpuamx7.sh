#!/usr/bin/env bash
set -uo pipefail
P=/tmp/deps; mkdir -p $P
for f in .devcarry/debs/*.deb; do dpkg -x "$f" $P; done
export PKG_CONFIG_PATH=$P/usr/lib/x86_64-linux-gnu/pkgconfig:$P/usr/share/pkgconfig PKG_CONFIG_SYSROOT_DIR=$P
export LD_LIBRARY_PATH=$P/usr/lib/x86_64-linux-gnu
rm -rf /tmp/var && mkdir /tmp/var && tar --exclude=./.devcarry --exclude='./build*' -cf - . | tar -xf - -C /tmp/var
python3 - <<'PY'
p='/tmp/var/runtime/cpu/cpu_backend.c'
s=open(p).read()
a='  return b < EINC_RT__BLOCK_MIN_TOKENS ? EINC_RT__BLOCK_MIN_TOKENS : b;'
assert a in s
s=s.replace(a,'  const char *e = getenv("EINC_EXP_MINBLOCK");\n  int64_t mn = e ? atoll(e) : EINC_RT__BLOCK_MIN_TOKENS;\n  return b < mn ? mn : b;')
open(p,'w').write(s)
PY
cmake -S /tmp/var -B build-var -G Ninja -DCMAKE_BUILD_TYPE=Release -DEINC_WITH_CUDA=OFF -DEINC_WITH_PYTHON=OFF \
    -DEINC_WITH_CLANG=OFF -DEINC_WITH_OPENCL=OFF -DEINC_WITH_DNNL=ON -Ddnnl_DIR=$P/usr/lib/x86_64-linux-gnu/cmake/dnnl >/tmp/cfg.log 2>&1 || { tail -30 /tmp/cfg.log; exit 1; }
cmake --build build-var -j16 --target einc-bench >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
EB=$(find build-var -name einc-bench -type f | head -1)
rows() { grep -E "^ +[0-9]+ +[0-9]+ +[0-9]+ \||copy bandwidth|^backend" ; }
for r in 1 2 3; do
  for mb in 512 1024 2048; do
    echo "== min block $mb run $r"; EINC_EXP_MINBLOCK=$mb timeout 120 $EB gdn --backend cpu --dtype bf16 --shapes 48/5120,64/3072,64/4096 --tokens 1024,2048 2>&1 | rows | tee -a $OUT/minblock.log | cut -c1-100
  done
done
