#!/usr/bin/env bash
# Interop tier: the PostgreSQL historian (scada/forward/postgres, and the
# orchestrator's [historian] wiring) against a real PostgreSQL. Debian's postgresql package is installed here if its
# binaries are missing; the tests start and stop throwaway clusters of their
# own (initdb and pg_ctl on a temporary directory, a free loopback port),
# as the unprivileged user "postgres" when this runs as root. With
# GL001_REQUIRE_POSTGRES=1 a missing PostgreSQL fails the tests, never
# skips them.
set -euo pipefail
cd "$(dirname "$0")/../.."

have_postgres() {
	compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1
}

if ! have_postgres; then
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			echo "postgres interop: PostgreSQL is missing and installing it needs root (or sudo)" >&2
			exit 1
		fi
		sudo="sudo -n"
	fi
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update </dev/null
	$sudo apt-get install -y --no-install-recommends postgresql </dev/null
	# The package may start a system cluster on port 5432. The tests run
	# clusters of their own, so stop the one this script installed.
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		$sudo systemctl disable --now postgresql.service </dev/null || true
	elif command -v service >/dev/null 2>&1; then
		$sudo service postgresql stop </dev/null || true
	fi
	if ! have_postgres; then
		echo "postgres interop: apt-get installed postgresql but no initdb is in /usr/lib/postgresql/*/bin or on PATH" >&2
		exit 1
	fi
fi
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
	echo "postgres interop: running as root needs the user postgres (Debian's package creates it) to run the server" >&2
	exit 1
fi
ls -d /usr/lib/postgresql/*/bin 2>/dev/null || command -v initdb
# TestDiskFull fills a tablespace on a tmpfs of a few MB. Mounting needs
# root with CAP_SYS_ADMIN, which a container may withhold even from root:
# probe, and make the test mandatory only where a mount works.
probe=$(mktemp -d)
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=1m tmpfs "$probe" 2>/dev/null; then
	umount "$probe"
	export GL001_POSTGRES_DISKFULL=1
	echo "postgres interop: tmpfs mounts work here; TestDiskFull is mandatory"
else
	echo "postgres interop: cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN); TestDiskFull will skip and the statement-timeout test stands in for a stuck disk" >&2
fi
rmdir "$probe"
GL001_REQUIRE_POSTGRES=1 go test -race -count=1 ./scada/forward/postgres/...
GL001_REQUIRE_POSTGRES=1 go test -race -count=1 -run Historian ./examples/orchestrator/...
