#!/usr/bin/env bash
# Interop tier: the orchestrator's status page rendered by a real browser,
# Debian's chromium in headless mode. The test starts the orchestrator on its
# simulators, lets chromium load the page and run its script, and checks the
# rendered DOM, 800 px wide, and takes a screenshot at that width, kept in
# $GL001_ARTIFACTS (default .ci/artifacts). A missing chromium is a failure
# of this tier, never a skip.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v chromium >/dev/null 2>&1; then
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
	$SUDO apt-get update
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium
fi
chromium --version

artifacts="${GL001_ARTIFACTS:-$PWD/.ci/artifacts}"
mkdir -p "$artifacts"
go test -race -tags interop -count=1 -run StatusPage -artifacts -outputdir "$artifacts" ./examples/orchestrator/...
find "$artifacts" -name '*.png' -print
