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
}
