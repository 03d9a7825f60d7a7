#!/usr/bin/env bash
# Runs sdk-conformance.mjs (the official atproto SDK) against a Bluesky server:
#
#   tests/clients/bluesky/run.sh emulator   # bulk-unblock emulator --network bluesky
#   tests/clients/bluesky/run.sh realpds    # the reference PDS (REALPDS_START=…/start.sh)
#
# Both runs give access tokens a 3-second life, so the script also sees the SDK refresh an
# expired session. The SDK comes from ATPROTO_NODE_MODULES (a node_modules folder holding
# @atproto/api), else from the reference PDS's working copy when it has one, else from the npm
# registry into a temporary folder. Nothing is written in the repository.
set -euo pipefail

mode="${1:-emulator}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The SDK.
modules="${ATPROTO_NODE_MODULES:-}"
if [ -z "$modules" ]; then
  candidate="${REALPDS_HOME:-${TMPDIR:-/tmp}/bulk-unblock-realpds}/node_modules"
  if [ -f "$candidate/@atproto/api/package.json" ]; then modules="$candidate"; fi
fi
if [ -z "$modules" ]; then
  echo "installing @atproto/api into a temporary folder" >&2
  npm install --prefix "$work/sdk" --no-save --no-package-lock --no-audit --no-fund @atproto/api >&2
  modules="$work/sdk/node_modules"
fi
ln -s "$modules" "$work/node_modules"
cp "$here/sdk-conformance.mjs" "$work/"

# Reads the first N lines a server prints, waiting at most a few minutes.
first_lines() {
  local file="$1" count="$2" waited=0
  while [ "$(wc -l < "$file")" -lt "$count" ]; do
    if ! kill -0 "$server_pid" 2>/dev/null; then echo "the server exited" >&2; return 1; fi
    sleep 0.2; waited=$((waited + 1))
    if [ "$waited" -gt 1500 ]; then echo "the server did not start" >&2; return 1; fi
  done
  head -n "$count" "$file"
}

case "$mode" in
  emulator)
    bin="${BULK_UNBLOCK:-$root/target/debug/bulk-unblock}"
    if [ ! -x "$bin" ]; then (cd "$root" && cargo build --quiet); fi
    "$bin" emulator --network bluesky --access-ttl 3s --login-delay 0s > "$work/server.out" 2> "$work/server.err" &
    server_pid=$!
    lines="$(first_lines "$work/server.out" 2)"
    service="$(sed -n 1p <<< "$lines" | sed 's/^listening on //')"
    read -r _ handle _ _ app_password <<< "$(sed -n 2p <<< "$lines")"
    export SERVICE="$service" IDENTIFIER="$handle" PASSWORD="$app_password"
    export SUBJECTS="news.example.com,jane.example.org" UNKNOWN_HANDLE="nobody-here.bsky.test"
    ;;
  realpds)
    start="${REALPDS_START:?set REALPDS_START to the reference PDS start.sh}"
    PDS_PORT=0 PLC_PORT=0 ACCESS_TTL_SECS=3 "$start" > "$work/server.out" 2> "$work/server.err" &
    server_pid=$!
    info="$(first_lines "$work/server.out" 2 | sed -n 2p)"
    field() { node -e "const i = JSON.parse(process.argv[1]); console.log($1)" "$info"; }
    export SERVICE="$(field 'i.pds')" IDENTIFIER="$(field 'i.accounts[0].handle')"
    export ACCOUNT_PASSWORD="$(field 'i.accounts[0].password')"
    export SUBJECTS="$(field 'i.accounts[1].handle + "," + i.accounts[2].handle')"
    export UNKNOWN_HANDLE="nobody-here.test"
    ;;
  *)
    echo "usage: $0 emulator|realpds" >&2
    exit 2
    ;;
esac

export ACCESS_TTL_SECS=3
echo "# $mode at $SERVICE as $IDENTIFIER" >&2
(cd "$work" && node sdk-conformance.mjs)
