#!/usr/bin/env bash
# Installs the Debian packages the tests and benches call, when any is missing.
#
# Each line of PACKAGES is "package: command..."; a package counts as present when every
# command it names is on PATH (or, for an absolute path, exists). When all are present this
# returns at once, without `apt-get update`. As root it installs the missing ones with
# apt-get; as anyone else it stops with the one line to run. EXOGUARD_SKIP_SYSTEM_PACKAGES=1
# skips the check (tests then skip what needs a missing tool, except under CI=true, where
# they fail).
set -euo pipefail

PACKAGES=(
  "chromium: /usr/bin/chromium"          # browser tests (Playwright drives Debian's Chromium)
  "poppler-utils: pdftotext pdftoppm pdfinfo"  # PDF report tests read the text and render pages
  "wrk: wrk"                             # bench/api.py load generator
)

if [[ "${EXOGUARD_SKIP_SYSTEM_PACKAGES:-}" == "1" ]]; then
  exit 0
fi

missing=()
for entry in "${PACKAGES[@]}"; do
  package="${entry%%:*}"
  for command in ${entry#*:}; do
    if [[ "$command" == /* ]]; then
      [[ -x "$command" ]] && continue
    elif command -v "$command" >/dev/null 2>&1; then
      continue
    fi
    missing+=("$package")
    break
  done
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

line="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ "$(id -u)" != "0" ]]; then
  echo "exoguard needs these Debian packages: ${missing[*]}" >&2
  echo "run:  sudo apt-get update && sudo $line" >&2
  echo "(or set EXOGUARD_SKIP_SYSTEM_PACKAGES=1 to run without them; their tests then skip)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "exoguard needs ${missing[*]} but this system has no apt-get; install them by hand" >&2
  echo "(or set EXOGUARD_SKIP_SYSTEM_PACKAGES=1 to run without them; their tests then skip)" >&2
  exit 1
fi

echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
