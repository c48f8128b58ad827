#!/usr/bin/env bash
# Sets up everything Continuum needs on a fresh machine. Idempotent: a second run
# only checks. Used by `make demo` and `make test` (and so by CI).
#
#   system: Java 17+ and Maven (to resolve Apache Kafka from Maven Central), kcat (a
#           Kafka client we did not write, used by tests), PostgreSQL server binaries
#           (registry store tests start a throwaway server), Prometheus and promtool
#           (the dashboards/alerts test scrapes the loop with a real Prometheus), Chromium
#           (a test renders a model's HTML report headless and screenshots it)
#   python: uv (into ~/.local/bin), then `uv sync --all-packages --locked`: every workspace
#           package, so the `continuum` command exists
#   kafka:  the broker's jars, resolved once into ~/.cache/continuum/kafka
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# pip --user puts uv into ~/.local/bin, which a new shell may not have on PATH: look there
# too (so a second run finds it), and say so at the end.
user_path=$PATH
export PATH="$HOME/.local/bin:$PATH"

java_ok() {
  command -v java >/dev/null 2>&1 || return 1
  local major
  major=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
  [ "${major%%.*}" -ge 17 ] 2>/dev/null
}

missing=()
java_ok || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
{ command -v prometheus && command -v promtool; } >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "Continuum needs these system packages: ${missing[*]}" >&2
    echo "On Debian/Ubuntu: sudo apt-get install -y ${missing[*]}" >&2
    echo "(Java must be 17 or newer; Kafka 4 refuses older runtimes.)" >&2
    exit 1
  fi
fi

if ! command -v uv >/dev/null 2>&1; then
  say "installing uv from PyPI"
  python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
fi

say "syncing the Python workspace (uv sync --all-packages --locked)"
uv sync --all-packages --locked --quiet

say "resolving Apache Kafka jars (cached after the first run)"
uv run --quiet continuum kafka fetch

uv_dir=$(dirname "$(command -v uv)")
if ! (PATH=$user_path; hash -r; command -v uv >/dev/null 2>&1); then
  say "done. uv is in $uv_dir, which is not on your PATH"
  echo "  'make demo', 'make test' and ./continuum find it anyway. For 'uv run ...' in a new"
  echo "  shell, add this line to ~/.bashrc (or ~/.profile) and open a new shell:"
  echo "    export PATH=\"$uv_dir:\$PATH\""
else
  say "done. Try: ./continuum --help"
fi

