#!/usr/bin/env bash
# Builds ai-sysadmin in release mode, installs Drain3 (pinned) next to the gateway benchmark's tools, runs
# benchmarks/replay_bench.py and writes benchmarks/REPLAY_RESULTS.md.
#   benchmarks/run-replay.sh [--lines N] [--rounds R]
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo_root/scripts/setup" >/dev/null
cache=${AI_SYSADMIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ai-sysadmin}
# shellcheck source=/dev/null
source "$cache/env"
tools="$cache/bench-venv"
if ! "$tools/bin/python" -c 'import drain3' 2>/dev/null; then
  echo "installing drain3 0.9.11 into $tools" >&2
  [[ -x $tools/bin/python ]] || python3 -m venv "$tools"
  "$tools/bin/pip" install -q 'drain3==0.9.11'
fi
cd "$repo_root"
swift build -c release --product ai-sysadmin
binary="$(swift build -c release --show-bin-path)/ai-sysadmin"
results=benchmarks/REPLAY_RESULTS.md
{
  echo "# Layer 1 replay benchmark results"
  echo
  echo "- command: \`benchmarks/run-replay.sh $*\`"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
  echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB, $(. /etc/os-release && echo "$PRETTY_NAME"), shared and noisy"
  echo "- Drain3 0.9.11 on $("$tools/bin/python" --version)"
  python3 benchmarks/replay_bench.py "$binary" "$tools/bin/python" "$LLAMA_SERVER" "$AI_SYSADMIN_TEST_MODEL" "$@"
} | tee "$results.new"
mv "$results.new" "$results"
