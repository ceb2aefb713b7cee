#!/usr/bin/env bash
# Install the system tools the full test suite uses, where they are missing and we may:
#   java (17+) and mvn   - fetch and run a real Apache Kafka broker for the integration tests
#   docker-compose       - check docker-compose.yml with `docker-compose config` (no engine needed)
# On a machine where we are not root or have no apt-get, it only says what is missing; the
# tests that need a tool then skip with a reason (and under CI=true a skip fails the run).
set -euo pipefail

missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "note: missing system packages (install them to run every test): ${missing[*]}" >&2
fi
