#!/usr/bin/env bash
# Runs benchmarks/fleet_verdicts.py (trigger-model calls for N hosts meeting the same log, with and without the fleet's
# shared verdicts) against a private PostgreSQL server and writes benchmarks/FLEET_VERDICTS_RESULTS.md.
#   benchmarks/run-fleet-verdicts.sh [--hosts N] [--kinds K] [--repeats R] [--rounds R] [--pace S]
# It counts model calls, not time: the debug build serves as well as a release build would.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo_root/scripts/setup" --no-build >/dev/null
cache=${AI_SYSADMIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ai-sysadmin}
# shellcheck source=/dev/null
source "$cache/env"
cd "$repo_root"
swift build --product ai-sysadmin
binary="$(swift build --show-bin-path)/ai-sysadmin"
results=benchmarks/FLEET_VERDICTS_RESULTS.md
{
  echo "# Shared verdicts benchmark results"
  echo
  echo "- command: \`benchmarks/run-fleet-verdicts.sh $*\`"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
  echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB, $(. /etc/os-release && echo "$PRETTY_NAME"), shared and noisy"
  python3 benchmarks/fleet_verdicts.py "$binary" "$LLAMA_SERVER" "$AI_SYSADMIN_TEST_MODEL" "$@"
} | tee "$results.new"
mv "$results.new" "$results"
