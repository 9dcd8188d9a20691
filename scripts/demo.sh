#!/usr/bin/env bash
# make demo: spa's main job end to end against the emulator.
#
# Starts moto server on a free loopback port, validates the settings, creates the
# engine's resources in the emulator (`spa local init`), then `spa demo`: seeds an
# organization from the settings and examples/organization.csv, on-boards every
# account, runs a maintenance window, raises exceptions (to a local chat server and the
# emulator's SES), runs last month's cost reports and the inventory (to the emulator's
# S3, the summary mailed to FinOps), and prints the timeline and the final table.
# moto stops when this script ends.
set -euo pipefail
cd "$(dirname "$0")/.."
settings="${1:-settings.yaml}"
venv="${SPA_VENV:-.venv}"

cargo build --quiet -p spa --bin spa
spa=target/debug/spa

# moto stops by itself when its standard input closes: hold it open on a FIFO.
fifo=$(mktemp -u); mkfifo "$fifo"
portfile=$(mktemp)
mkdir -p target
"$venv/bin/python" scripts/moto_server.py 0 <"$fifo" >"$portfile" 2>target/demo-moto.log &
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
echo "demo: spa local init --settings $settings"
"$spa" local init --settings "$settings"
echo
echo "demo: spa demo --settings $settings --tree examples/organization.csv"
"$spa" demo --settings "$settings" --tree examples/organization.csv "${@:2}"
echo
echo "demo: spa events list --settings $settings --limit 8"
"$spa" events list --settings "$settings" --limit 8
