#!/bin/sh
# Runs conformance.py in a throwaway virtualenv holding Mastodon.py from PyPI, against the
# debug binary (built first) or the one given with --binary PATH. Warnings are errors, so a
# deprecation the library notices in the emulator's answers fails the run too.
#
#   tests/clients/mastodon/run.sh                  # cargo build, then the latest Mastodon.py
#   MASTODON_PY='Mastodon.py==2.3.3' tests/clients/mastodon/run.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
venv=$(mktemp -d)
trap 'rm -rf "$venv"' EXIT INT TERM
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "${MASTODON_PY:-Mastodon.py}"
if [ $# -eq 0 ]; then
    (cd "$root" && cargo build --quiet)
fi
"$venv/bin/python" -W error "$here/conformance.py" "$@"
