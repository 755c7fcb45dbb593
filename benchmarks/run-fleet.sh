#!/usr/bin/env bash
# Builds ai-sysadmin in release mode, runs benchmarks/fleet_bench.py against a private PostgreSQL server of its own
# and writes benchmarks/FLEET_RESULTS.md.
#   benchmarks/run-fleet.sh [--events N] [--hosts H] [--rounds R] [--approvals K]
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo_root/scripts/setup" --no-build >/dev/null
cache=${AI_SYSADMIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ai-sysadmin}
# shellcheck source=/dev/null
source "$cache/env"
cd "$repo_root"
swift build -c release --product ai-sysadmin
binary="$(swift build -c release --show-bin-path)/ai-sysadmin"
results=benchmarks/FLEET_RESULTS.md
{
  echo "# Fleet store benchmark results"
  echo
  echo "- command: \`benchmarks/run-fleet.sh $*\`"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
  echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB, $(. /etc/os-release && echo "$PRETTY_NAME"), shared and noisy"
  python3 benchmarks/fleet_bench.py "$binary" "$AI_SYSADMIN_TEST_PYTHON" "$@"
} | tee "$results.new"
mv "$results.new" "$results"
