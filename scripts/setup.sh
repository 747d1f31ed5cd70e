#!/usr/bin/env bash
# Installs what is missing on a Debian 12 machine (idempotent, quiet when nothing is missing),
# then configures and builds einc with CMake into build/ (or $EINC_BUILD_DIR).
# Sourced by scripts/demo.sh and scripts/test.sh.
set -euo pipefail
EINC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

einc_install_packages() {
  local missing=() pkg cmd
  while read -r pkg cmd; do
    [[ -z "$pkg" || "$pkg" == \#* ]] && continue
    # "PKG CMD": needed only when no CMD is on the PATH (node and npm may come from elsewhere)
    if [[ -n "$cmd" ]] && command -v "$cmd" >/dev/null; then continue; fi
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done < "$EINC_ROOT/scripts/debian-packages.txt"
  if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    local sudo=""
    [[ $(id -u) -ne 0 ]] && sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
}

# Optional hooks added by parts of the project (the grammar install, ...).
einc_install_extras() {
  local f
  for f in "$EINC_ROOT"/scripts/setup.d/*.sh; do
    [[ -e "$f" ]] || continue
    # shellcheck source=/dev/null
    source "$f"
  done
}

# einc_build DIR [cmake args...]
einc_build() {
  local dir=$1
  shift
  cmake -S "$EINC_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" --parallel "$(nproc)"
}

einc_install_packages
einc_install_extras
