#!/usr/bin/env bash
# mcubench's one set-up step, then the job you ask for. Idempotent: a second run only checks.
#
#   bash host/dev.sh bench [ARGS...]   set up, then run `mcubench bench` (the emulated board by default)
#   bash host/dev.sh test  [ARGS...]   set up, then run the test suite (what CI runs)
#   bash host/dev.sh setup             set up only
#   bash host/dev.sh mcubench ARGS...  set up, then any mcubench command
#
# What it installs: Debian packages (cross toolchain, newlib, QEMU, Chromium for the report
# test, ser2net/socat for the labgrid test, srecord for PlatformIO's nRF52 image tools), a virtual environment .venv with mcubench and its
# dependencies from PyPI (with the torch extra: a CPU-only PyTorch, litert-torch, onnx2tf), and PlatformIO's core package tool-scons made from PyPI's scons (so
# PlatformIO never needs its registry for the emulated boards).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${MCUBENCH_VENV:-$ROOT/.venv}"
APT_PACKAGES=(
  gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib
  qemu-system-arm python3-venv python3-dev git
  chromium ser2net socat srecord xz-utils
)

log() { printf '[setup] %s\n' "$*" >&2; }

install_debian_packages() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  log "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

install_python_env() {
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtual environment $VENV"
    python3 -m venv "$VENV"
  fi
  # Reinstall only when the dependency list changed since the last successful install.
  local stamp="$VENV/.mcubench-deps" want
  want="$(cat pyproject.toml host/torch-nodeps.txt | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! "$VENV/bin/python" -c "import mcubench" 2>/dev/null; then
    log "installing mcubench and its dependencies into $VENV (TensorFlow is large: the first time takes minutes)"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e ".[ml,dist,test,farm]"
    # PyTorch/ONNX support is optional: without it those models are refused and their tests
    # skip, naming the extra. The stamp is left unwritten so the next run tries again.
    if install_torch_extra; then
      echo "$want" > "$stamp"
    else
      log "warning: the torch extra did not install (see pip's output above); PyTorch/ONNX models are unavailable"
    fi
  fi
}

# PyTorch/ONNX support. A CPU-only torch (~190 MB, not PyPI's default ~3 GB of CUDA packages):
# from the configured index/find-links when it serves the +cpu build, else PyTorch's CPU index.
# Then the extra, then the converters that must come without their dependencies.
TORCH_CPU="2.13.0+cpu"
install_torch_extra() {
  log "installing the torch extra (CPU-only torch $TORCH_CPU, litert-torch, onnx2tf)"
  if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__ != '$TORCH_CPU')" 2>/dev/null; then
    "$VENV/bin/python" -m pip install -q "torch==$TORCH_CPU" 2>/dev/null \
      || "$VENV/bin/python" -m pip install -q "torch==$TORCH_CPU" --index-url https://download.pytorch.org/whl/cpu \
      || return 1  # never fall back to PyPI's default torch: 3 GB of CUDA packages
  fi
  "$VENV/bin/python" -m pip install -q -e ".[torch]" || return 1
  "$VENV/bin/python" -m pip install -q --no-deps -r host/torch-nodeps.txt || return 1
}

install_platformio_pieces() {
  "$VENV/bin/python" -c "from mcubench.core.pio_offline import ensure_tool_scons; ensure_tool_scons()"
}

setup() {
  install_debian_packages
  install_python_env
  install_platformio_pieces
}

cmd="${1:-bench}"
[ $# -gt 0 ] && shift
setup
export PATH="$VENV/bin:$PATH"
case "$cmd" in
  setup) log "done: activate with  source $VENV/bin/activate" ;;
  bench) exec mcubench bench "$@" ;;
  test)
    # -p no:cacheprovider keeps a CI checkout clean; --durations lists the slowest tests, so
    # every CI log says where its time went.
    exec python -m pytest -p no:cacheprovider -rs --durations=20 "$@" ;;
  mcubench) exec mcubench "$@" ;;
  *) echo "usage: bash host/dev.sh {bench|test|setup|mcubench} [ARGS...]" >&2; exit 2 ;;
esac
