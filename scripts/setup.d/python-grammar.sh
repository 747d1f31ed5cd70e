# Installs the pinned tree-sitter-python grammar from the npm registry into grammars/node_modules
# (sourced by scripts/setup.sh). Only the grammar's generated C sources are used by the build, so
# no install scripts run. Skipped when the installed copy matches the lock file.
einc_install_python_grammar() {
  local dir="$EINC_ROOT/grammars" stamp
  stamp="$dir/node_modules/.package-lock.json"
  if [[ -f "$dir/node_modules/tree-sitter-python/src/parser.c" && -f "$stamp" &&
    "$stamp" -nt "$dir/package-lock.json" ]]; then
    return 0
  fi
  if ! command -v npm >/dev/null; then
    echo "setup: npm is missing; scripts/setup.sh installs it (Debian package npm)" >&2
    return 1
  fi
  echo "setup: installing the tree-sitter-python grammar (npm ci)"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
}
einc_install_python_grammar
