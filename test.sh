#!/usr/bin/env bash
# Builds everything (warnings are errors) and runs the whole test suite.
# Ends with one line "N passed, N failed, N skipped"; exit status is non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
# shellcheck source=scripts/common.sh
source "$root/scripts/common.sh"
require_dotnet
# The app's browser tests drive Debian's Chromium (never Playwright's own download), the Slurm tests a private
# single-node Slurm (slurm-wlm, munge: scripts/slurm-local.sh); ./soup needs neither.
ensure_debian_packages "${PROJECT_DEBIAN_PACKAGES[@]}" chromium slurm-wlm munge
ensure_web_packages "$root" >/dev/null

echo "== build" >&2
dotnet build RewardedSoups.sln -c Release --nologo -v quiet

log="$(mktemp)"
# Built-in text base models are cached per user (docs/text.md); the tests train their tiny ones into a cache of
# their own, empty at every run, so a test never meets a base left by another version of the code.
export SOUP_CACHE="$(mktemp -d)"
trap 'rm -f "$log"; rm -rf "$SOUP_CACHE"' EXIT
echo "== test" >&2
status=0
dotnet test RewardedSoups.sln -c Release --no-build --nologo "$@" 2>&1 | tee "$log" || status=$?

# One closing line summed over the test projects ("Passed!  - Failed: 0, Passed: 12, Skipped: 0, ...").
summary="$(grep -E '(Passed|Failed)! +- +Failed: ' "$log" | sed -E 's/.*Failed: +([0-9]+), Passed: +([0-9]+), Skipped: +([0-9]+).*/\1 \2 \3/' \
  | awk '{f+=$1; p+=$2; s+=$3; n++} END {if (n == 0) print "none"; else printf "%d passed, %d failed, %d skipped\n", p, f, s}')"
if [ "$summary" = "none" ]; then
  echo "error: no test results found" >&2
  exit 1
fi
echo "$summary"
exit "$status"
