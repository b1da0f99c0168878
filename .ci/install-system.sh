#!/usr/bin/env bash
# Installs the Debian packages otelml's end-to-end tests need, once.
#
#   prometheus  Debian's 2.42 server (with promtool): the collector tests start their own
#               instance on a free loopback port and read remote-written metrics back from it.
#   openssl     makes a throw-away certificate for the Collector's bearer-token-over-TLS test.
#   chromium    headless browser that renders the HTML reports in tests.
#
# Idempotent: packages already installed are not touched and apt-get update is skipped.
# The Debian package would start a system Prometheus on :9090 (and node-exporter comes in as a
# recommendation); the tests need neither, so service starts are refused during the install and
# any system Prometheus left running is stopped afterwards.
set -euo pipefail

PACKAGES=(prometheus openssl chromium)

log() { printf '[install-system] %s\n' "$*" >&2; }

missing=()
for pkg in "${PACKAGES[@]}"; do
    if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
        log "$pkg already installed"
    else
        missing+=("$pkg")
    fi
done

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo)
fi

stop_system_prometheus() {
    # Only the Debian service's own daemon is stopped: it runs as user prometheus with the
    # package's default storage path, unlike the instances the tests start.
    local pids
    pids=$(pgrep -u prometheus -x prometheus 2>/dev/null || true)
    if [ -n "$pids" ]; then
        log "stopping the system prometheus service (pids: $pids)"
        "${SUDO[@]}" invoke-rc.d prometheus stop >/dev/null 2>&1 \
            || "${SUDO[@]}" service prometheus stop >/dev/null 2>&1 \
            || "${SUDO[@]}" kill $pids || true
    fi
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        pgrep -u prometheus -x prometheus >/dev/null 2>&1 || break
        sleep 0.5
    done
    if "${SUDO[@]}" systemctl is-enabled prometheus >/dev/null 2>&1; then
        "${SUDO[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
}

if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    # policy-rc.d exit 101 tells invoke-rc.d/deb-systemd-invoke not to start services; keep an
    # existing one (container images often ship it), otherwise add one just for this install.
    added_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    trap '[ "$added_policy" = 1 ] && "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d' EXIT

    log "apt-get update"
    "${SUDO[@]}" apt-get update -qq
    log "installing: ${missing[*]}"
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${missing[@]}" >/dev/null
fi

if dpkg-query -W prometheus >/dev/null 2>&1; then
    stop_system_prometheus
fi

for tool in prometheus promtool; do
    command -v "$tool" >/dev/null || { log "ERROR: $tool not on PATH after install"; exit 1; }
done
log "ok: $(prometheus --version 2>&1 | head -n1)"
