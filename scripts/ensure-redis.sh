#!/usr/bin/env bash
# ensure-redis.sh: make sure redis-server and redis-cli are on PATH, which the
# Redis backend's tests need (they start their own servers on free ports).
# Does nothing when both are there; installs Debian's packages when it can
# (root with apt-get); otherwise says what to install and fails.
set -euo pipefail

if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
	exit 0
fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
	echo "ensure-redis: installing redis-server and redis-tools with apt-get" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
	# Installing does not leave a server we need: tests start their own.
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null && exit 0
	echo "ensure-redis: apt-get ran but redis-server or redis-cli is still missing" >&2
	exit 1
fi
cat >&2 <<'MSG'
ensure-redis: redis-server and redis-cli (Redis 7) are needed by the tests.
Install them, e.g. on Debian/Ubuntu as root:
    apt-get update && apt-get install -y redis-server redis-tools
or on macOS: brew install redis
MSG
exit 1
