#!/usr/bin/env bash
# Interop tier: the MQTT source (scada/mqtt) against mosquitto, a third-party
# MQTT 5 broker, for what the in-process mochi broker does not show: a
# password file and a TLS 1.3 listener that demands client certificates,
# sessions and queued messages kept by another implementation, persistence
# across a broker restart, shared subscriptions (including a clean-start
# group member that stops while messages are published: the others must get
# its share), and a broker killed under a scada.Collector. mosquitto is
# installed here from Debian if it is missing; the test starts and stops its
# own broker processes. A broker that cannot be installed is a failure of
# this tier, never a skip.
set -euo pipefail
cd "$(dirname "$0")/../.."

have_mosquitto() {
	command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]
}

if ! have_mosquitto; then
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			echo "mqtt interop: mosquitto is missing and installing it needs root (or sudo)" >&2
			exit 1
		fi
		sudo="sudo -n"
	fi
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update </dev/null
	$sudo apt-get install -y --no-install-recommends mosquitto </dev/null
	# The package starts a system broker on port 1883. The test runs brokers
	# of its own, so stop and disable the service this script installed.
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		$sudo systemctl disable --now mosquitto.service </dev/null || true
	elif command -v service >/dev/null 2>&1; then
		$sudo service mosquitto stop </dev/null || true
	fi
	if ! have_mosquitto; then
		echo "mqtt interop: apt-get installed mosquitto but no mosquitto binary is on PATH or in /usr/sbin" >&2
		exit 1
	fi
fi
PATH="$PATH:/usr/sbin" mosquitto -h 2>&1 | head -n 1 || true
go test -race -count=1 -tags interop -run Interop ./scada/mqtt/...
