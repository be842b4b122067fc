# setup.sh -- shared by demos/run and tests/run: install what is missing
# (Debian 12, as root), configure and build. Source it; do not run it.

# Every Debian package the project needs to build, test and demo.
LEC_DEB_PACKAGES=(
  build-essential cmake pkg-config git
  portaudio19-dev libsdl2-dev libsdl2-image-dev libfftw3-dev libopenblas-dev
  libsndfile1-dev libsamplerate0-dev libcjson-dev libcairo2-dev
  libpoppler-glib-dev qpdf
  alsa-utils
  lilypond fluidsynth fluid-soundfont-gm timgm6mb-soundfont
  xvfb xauth ffmpeg sox
  clang libclang-rt-14-dev valgrind
)

lec_log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

lec_install_deps() {
  local missing=()
  local p
  for p in "${LEC_DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    lec_log "all ${#LEC_DEB_PACKAGES[@]} Debian packages present"
    return 0
  fi
  lec_log "installing ${#missing[@]} missing Debian packages: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then sudo=sudo; else
      echo "error: packages missing (${missing[*]}) and not root; install them or run as root" >&2
      return 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q || { echo "error: apt-get update failed" >&2; return 1; }
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    { echo "error: apt-get install failed for: ${missing[*]}" >&2; return 1; }
}

# lec_build BUILD_DIR [cmake args...]
lec_build() {
  local dir=$1; shift
  lec_log "configuring $dir $*"
  cmake -S "$LEC_ROOT" -B "$dir" "$@" >/dev/null || return 1
  lec_log "building $dir"
  cmake --build "$dir" -j "$(nproc)" 2>&1 | grep -v '^\[' || true
  [ "${PIPESTATUS[0]}" = 0 ] || return 1
}
