#!/usr/bin/env bash
# Builds the daemon in release mode and runs the supervisor benchmarks; writes benchmarks/RESULTS.md.
#   benchmarks/run.sh [--runs N] [--idle-seconds S] [--sections start,restart,idle]
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo_root/scripts/setup" --no-build >/dev/null
cache=${AI_SYSADMIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ai-sysadmin}
# shellcheck source=/dev/null
source "$cache/env"
cd "$repo_root"
swift build -c release --product ai-sysadmin
bin="$(swift build -c release --show-bin-path)/ai-sysadmin"
{
  echo "# Supervisor benchmark results"
  echo
  echo "- command: \`benchmarks/run.sh $*\`"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
  echo "- model: SmolLM2-135M-Instruct Q4_1 (the test model), ctx 1024, 1 thread per server"
  python3 benchmarks/supervisor_bench.py "$@" "$bin" "$LLAMA_SERVER" "$AI_SYSADMIN_TEST_MODEL"
} | tee benchmarks/RESULTS.md
