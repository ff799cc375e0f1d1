#!/usr/bin/env bash
# The steps of the rulegate GitHub Action (action.yml), one subcommand per step, so that they
# can be run and tested outside GitHub (tests/it/action.rs runs them against a local build).
#
#   rulegate.sh resolve   the release to install: version, target, archive, install dir
#   rulegate.sh install   download the archive and its checksum, verify, unpack, add to PATH
#   rulegate.sh run       rulegate test with the Action's inputs; reports and outputs
#
# Inputs arrive as environment variables (INPUT_*), never spliced into the script text, so a
# branch name or an input cannot become shell code. Outputs go to $GITHUB_OUTPUT, the PATH
# addition to $GITHUB_PATH; outside GitHub both default to files in the working directory's
# temporary folder.
set -euo pipefail

fail() {
  # A workflow command is one line: GitHub's escapes for %, CR and LF.
  local msg="$*"
  msg="${msg//'%'/'%25'}"
  msg="${msg//$'\r'/'%0D'}"
  msg="${msg//$'\n'/'%0A'}"
  echo "::error title=rulegate action::$msg"
  exit 2
}

output() { echo "$1=$2" >> "${GITHUB_OUTPUT:-/dev/null}"; }

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    fail "neither sha256sum nor shasum is installed: the download cannot be verified"
  fi
}

# The release target of this runner: the names the release workflow builds (dist).
target_of_runner() {
  local os="${RUNNER_OS:-}" arch="${RUNNER_ARCH:-}"
  if [ -z "$os" ]; then
    case "$(uname -s)" in
      Linux) os=Linux ;;
      Darwin) os=macOS ;;
      MINGW* | MSYS* | CYGWIN*) os=Windows ;;
      *) os="$(uname -s)" ;;
    esac
  fi
  if [ -z "$arch" ]; then
    case "$(uname -m)" in
      x86_64 | amd64) arch=X64 ;;
      aarch64 | arm64) arch=ARM64 ;;
      *) arch="$(uname -m)" ;;
    esac
  fi
  case "$os/$arch" in
    Linux/X64) echo x86_64-unknown-linux-musl ;;
    Linux/ARM64) echo aarch64-unknown-linux-musl ;;
    macOS/X64) echo x86_64-apple-darwin ;;
    macOS/ARM64) echo aarch64-apple-darwin ;;
    Windows/X64) echo x86_64-pc-windows-msvc ;;
    *) fail "no rulegate release is built for $os/$arch (releases: linux x86_64 and aarch64, macOS x86_64 and arm64, Windows x86_64); build it with cargo install rulegate" ;;
  esac
}

releases_url() {
  if [ -n "${RULEGATE_RELEASES_URL:-}" ]; then
    echo "${RULEGATE_RELEASES_URL%/}"
  else
    [ -n "${RULEGATE_REPOSITORY:-}" ] || fail "RULEGATE_REPOSITORY (owner/name of the action's repository) is not set"
    echo "${GITHUB_SERVER_URL:-https://github.com}/$RULEGATE_REPOSITORY/releases"
  fi
}

resolve() {
  local version="${INPUT_VERSION:-latest}" releases target archive tag dir
  releases="$(releases_url)"
  if [ "$version" = latest ]; then
    # /releases/latest redirects to /releases/tag/vX.Y.Z.
    local effective
    effective="$(curl -fsSL --retry 3 -o /dev/null -w '%{url_effective}' "$releases/latest")" ||
      fail "could not find the latest rulegate release at $releases/latest"
    tag="${effective##*/}"
    case "$tag" in
      v[0-9]*) ;;
      *) fail "could not read the latest release's tag from $effective" ;;
    esac
  else
    tag="v${version#v}"
  fi
  case "$tag" in
    *[!A-Za-z0-9.+-]*) fail "not a rulegate version: $tag" ;;
  esac
  target="$(target_of_runner)"
  case "$target" in
    *windows*) archive="rulegate-$target.zip" ;;
    *) archive="rulegate-$target.tar.gz" ;;
  esac
  dir="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}}/rulegate/${tag#v}/$target"
  output version "${tag#v}"
  output tag "$tag"
  output target "$target"
  output archive "$archive"
  output dir "$dir"
  echo "rulegate $tag for $target"
}

install() {
  local tag="${RULEGATE_TAG:?}" archive="${RULEGATE_ARCHIVE:?}" dir="${RULEGATE_DIR:?}" releases exe
  releases="$(releases_url)"
  exe=rulegate
  case "$archive" in *.zip) exe=rulegate.exe ;; esac
  if [ -x "$dir/$exe" ] && [ -f "$dir/.verified" ]; then
    echo "rulegate ${tag} from the cache ($dir)"
  else
    local work
    work="$(mktemp -d)"
    curl -fsSL --retry 3 -o "$work/$archive" "$releases/download/$tag/$archive" ||
      fail "could not download $releases/download/$tag/$archive"
    curl -fsSL --retry 3 -o "$work/$archive.sha256" "$releases/download/$tag/$archive.sha256" ||
      fail "could not download the checksum $releases/download/$tag/$archive.sha256"
    local want got
    want="$(tr -d '\r' < "$work/$archive.sha256" | awk 'NR == 1 { print tolower($1) }')"
    got="$(sha256_of "$work/$archive")"
    case "$want" in
      [0-9a-f]*) [ "${#want}" -eq 64 ] || fail "the checksum file of $archive holds no SHA-256" ;;
      *) fail "the checksum file of $archive holds no SHA-256" ;;
    esac
    [ "$want" = "$got" ] || fail "checksum mismatch for $archive: expected $want, got $got"
    mkdir -p "$work/unpacked"
    case "$archive" in
      *.zip)
        if command -v unzip >/dev/null 2>&1; then
          (cd "$work/unpacked" && unzip -q "../$archive")
        else
          powershell -NoProfile -Command "Expand-Archive -LiteralPath '$work/$archive' -DestinationPath '$work/unpacked'"
        fi
        ;;
      *) tar -xzf "$work/$archive" -C "$work/unpacked" ;;
    esac
    local found
    found="$(find "$work/unpacked" -type f -name "$exe" | head -n 1)"
    [ -n "$found" ] || fail "$archive holds no $exe"
    mkdir -p "$dir"
    cp "$found" "$dir/$exe"
    chmod +x "$dir/$exe"
    echo "$got  $archive" > "$dir/.verified"
    rm -rf "$work"
    echo "rulegate $tag installed in $dir (sha256 $got)"
  fi
  echo "$dir" >> "${GITHUB_PATH:-/dev/null}"
  "$dir/$exe" --version
}

# Counts from the JUnit report's root element (python3 is on every GitHub-hosted runner).
junit_counts() {
  local junit="$1"
  [ -s "$junit" ] || return 0
  command -v python3 >/dev/null 2>&1 || return 0
  python3 - "$junit" <<'PY' || true
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
total = failures = errors = skipped = 0
for s in suites:
    total += int(s.get("tests", 0))
    failures += int(s.get("failures", 0))
    errors += int(s.get("errors", 0))
    skipped += int(s.get("skipped", 0) or s.get("disabled", 0) or 0)
print(f"tests={total}")
print(f"passed={total - failures - errors - skipped}")
print(f"failed={failures}")
print(f"errors={errors}")
print(f"skipped={skipped}")
PY
}

run() {
  local reports="${INPUT_REPORTS_DIR:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/rulegate-reports}"
  mkdir -p "$reports"
  local args=(test)
  local paths extra
  # Paths and extra arguments are split on whitespace, line breaks included (no globbing,
  # no shell evaluation).
  read -r -d '' -a paths <<< "${INPUT_PATH:-}" || true
  read -r -d '' -a extra <<< "${INPUT_ARGS:-}" || true
  [ "${#paths[@]}" -gt 0 ] && args+=("${paths[@]}")
  [ -n "${INPUT_BACKEND:-}" ] && args+=(--backend "$INPUT_BACKEND")
  [ -n "${INPUT_TERRAFORM:-}" ] && args+=(--terraform "$INPUT_TERRAFORM")
  args+=(--junit "$reports/junit.xml")

  local baseline="${INPUT_BASELINE:-auto}"
  if [ "$baseline" = auto ]; then
    baseline=""
    if [ -n "${GITHUB_BASE_REF:-}" ]; then
      baseline="origin/$GITHUB_BASE_REF"
      if ! git rev-parse --verify --quiet "$baseline^{commit}" >/dev/null; then
        # A shallow checkout has no base branch: fetch its tip (the baseline reads one tree).
        git fetch --no-tags --quiet --depth=1 origin \
          "+refs/heads/$GITHUB_BASE_REF:refs/remotes/origin/$GITHUB_BASE_REF" ||
          fail "could not fetch the pull request's base branch $GITHUB_BASE_REF for the baseline (set baseline: none to run without one)"
      fi
    fi
  elif [ "$baseline" = none ]; then
    baseline=""
  fi
  if [ -n "$baseline" ]; then
    args+=(--baseline "$baseline" --changes "$reports/changes.json")
  fi

  if [ "${INPUT_BACKEND:-}" != cloudflare ] && [ "${INPUT_COVERAGE_REPORTS:-true}" = true ]; then
    args+=(--coverage-lcov "$reports/coverage.info" --coverage-cobertura "$reports/coverage.xml")
  fi
  if [ -n "${INPUT_REQUIRE_COVERAGE:-}" ]; then
    args+=("--require-coverage=$INPUT_REQUIRE_COVERAGE")
  fi
  [ "${#extra[@]}" -gt 0 ] && args+=("${extra[@]}")

  local exe="${RULEGATE_EXE:-rulegate}" code=0
  echo "rulegate ${args[*]}"
  "$exe" "${args[@]}" || code=$?

  local verdict
  case "$code" in
    0) verdict=passed ;;
    1) verdict=failed ;;
    2) verdict=invalid ;;
    3) verdict=could-not-run ;;
    *) verdict=could-not-run ;;
  esac
  output exit-code "$code"
  output verdict "$verdict"
  output reports "$reports"
  local line
  while IFS= read -r line; do
    [ -n "$line" ] && output "${line%%=*}" "${line#*=}"
  done < <(junit_counts "$reports/junit.xml")
  if [ -s "$reports/changes.json" ] && command -v python3 >/dev/null 2>&1; then
    local changes
    changes="$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["changes"]))' "$reports/changes.json" 2>/dev/null || true)"
    [ -n "$changes" ] && output changes "$changes"
  fi
  exit "$code"
}

case "${1:-}" in
  resolve) resolve ;;
  install) install ;;
  run) run ;;
  *) echo "usage: rulegate.sh resolve|install|run" >&2; exit 2 ;;
esac
