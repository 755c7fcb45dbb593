#!/usr/bin/env bash
# Builds ai-sysadmin in release mode, runs benchmarks/judgment_bench.py over the shipped labelled corpus and writes
# benchmarks/JUDGMENT_RESULTS.md.
#   benchmarks/run-judgment.sh [--rounds R] [--model-runs M]
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo_root/scripts/setup" >/dev/null
cache=${AI_SYSADMIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ai-sysadmin}
# shellcheck source=/dev/null
source "$cache/env"
cd "$repo_root"
swift build -c release --product ai-sysadmin
binary="$(swift build -c release --show-bin-path)/ai-sysadmin"
results=benchmarks/JUDGMENT_RESULTS.md
{
  echo "# Layer 1 judgment benchmark results"
  echo
  echo "- command: \`benchmarks/run-judgment.sh $*\`"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
  echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB, $(. /etc/os-release && echo "$PRETTY_NAME"), shared and noisy"
  echo "- ingest rate, from [REPLAY_RESULTS.md](REPLAY_RESULTS.md): $(grep -m1 '^| ai-sysadmin replay' benchmarks/REPLAY_RESULTS.md | cut -d'|' -f3 | xargs) lines/s, $(grep -m1 '^| Drain3 with masking' benchmarks/REPLAY_RESULTS.md | cut -d'|' -f5 | xargs) Drain3's with equivalent masking"
  python3 benchmarks/judgment_bench.py "$binary" "$LLAMA_SERVER" "$AI_SYSADMIN_TEST_MODEL" "$@"
} | tee "$results.new"
mv "$results.new" "$results"
