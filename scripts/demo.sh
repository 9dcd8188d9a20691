#!/usr/bin/env bash
# make demo: spa's main job end to end against the emulator.
#
# Today (foundation): starts moto server on a free loopback port, validates the
# settings and prints the resolved plan. The lifecycle run (seeding an organization,
# builds, maintenance window, reports) arrives with the lifecycle issue, in `spa demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
settings="${1:-settings.yaml}"
venv="${SPA_VENV:-.venv}"

cargo build --quiet -p spa-deploy --bin spa
spa=target/debug/spa

# moto stops by itself when its standard input closes: hold it open on a FIFO.
fifo=$(mktemp -u); mkfifo "$fifo"
portfile=$(mktemp)
"$venv/bin/python" scripts/moto_server.py 0 <"$fifo" >"$portfile" &
moto=$!
exec 3>"$fifo"; rm -f "$fifo"
cleanup() { exec 3>&-; wait "$moto" 2>/dev/null || true; rm -f "$portfile"; }
trap cleanup EXIT
for _ in $(seq 1 100); do [ -s "$portfile" ] && break; sleep 0.1; done
port=$(head -n1 "$portfile")
[ -n "$port" ] || { echo "demo: moto server did not start (is .venv installed? run make venv)" >&2; exit 1; }
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
echo "demo: moto server listening on $AWS_ENDPOINT_URL"

echo "demo: spa validate --settings $settings"
"$spa" validate --settings "$settings"
echo
echo "demo: spa plan --settings $settings --tree examples/organization.csv"
"$spa" plan --settings "$settings" --tree examples/organization.csv
echo
echo "demo: the account lifecycle run against the emulator (organization seeding, builds,"
echo "      maintenance window, final table) comes with the lifecycle issue; see README.md."
