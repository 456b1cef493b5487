#!/usr/bin/env bash
# Interop tier: the orchestrator's alarms against node-opcua, a third-party
# server with real Alarms & Conditions (gopcua's in-process server has
# none). The test starts .ci/interop/opcua_server.mjs, runs the orchestrator
# with [opcua.events] and [alarms] sections pointing at it, sees the limit
# alarm active in /healthz after ConditionRefresh, acknowledges and confirms
# it through POST /alarms/ack and the guard, and sees the server's new
# state; it also runs scada/guard/guardtest's acknowledge suite (RunAcks)
# against the same alarm through an opcua.Source. node-opcua is installed here from package-lock.json (see
# opcua.sh); a missing node or npm is a failure of this tier, never a skip.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "alarms interop: node and npm are required (Node 20 or newer)" >&2
	exit 1
fi
node --version
npm ci --prefix .ci/interop --no-audit --no-fund --engine-strict
go test -race -tags interop -count=1 -run AlarmsInterop ./examples/orchestrator/...
