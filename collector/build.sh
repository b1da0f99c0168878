#!/usr/bin/env bash
# Builds otelml's OpenTelemetry Collector (collector/otelcol) into collector/_build/otelcol-otelml.
#
# Skips the build when the binary is newer than every source of it (go.mod, go.sum, *.go and
# this script). Set OTELCOL_FORCE_BUILD=1 to rebuild anyway. Prints the binary's path last on
# stdout; progress goes to stderr. A cold build (empty Go module and build caches) downloads
# a few hundred modules and compiles for several minutes on 2 cores; later builds reuse
# GOMODCACHE and GOCACHE.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/otelcol"
out_dir="$here/_build"
binary="$out_dir/otelcol-otelml"

log() { printf '[collector/build.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if ! command -v go >/dev/null 2>&1; then
    # The Go toolchain's usual install place, for shells whose PATH lacks it.
    if [ -x /usr/local/go/bin/go ]; then
        PATH="/usr/local/go/bin:$PATH"
    else
        die "the go command is not on PATH; install Go >= 1.26 first"
    fi
fi

if [ "${OTELCOL_FORCE_BUILD:-0}" != 1 ] && [ -x "$binary" ]; then
    newer=$(find "$src" "$here/build.sh" -type f \
        \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' -o -name 'build.sh' \) \
        -newer "$binary" -print -quit)
    if [ -z "$newer" ]; then
        log "up to date: $binary"
        printf '%s\n' "$binary"
        exit 0
    fi
    log "rebuilding: $newer changed since the last build"
fi

mkdir -p "$out_dir"
start=$SECONDS
log "$(go version); GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE)"
log "downloading modules listed in go.sum (cold: about a minute)"
(cd "$src" && go mod download) || die "go mod download failed (is the Go module proxy reachable?)"
log "modules ready after $((SECONDS - start))s; compiling (cold: several minutes on 2 cores)"

tmp="$binary.tmp.$$"
trap 'rm -f "$tmp"' EXIT
# -trimpath and stripped symbols: smaller binary, no paths of the build machine inside it;
# no VCS stamp, so a checkout owned by another user or without .git builds the same.
(cd "$src" && go build -trimpath -buildvcs=false -ldflags='-s -w' -o "$tmp" .) \
    || die "go build failed"
"$tmp" --version >/dev/null || die "the built binary does not run"
mv -f "$tmp" "$binary"
trap - EXIT

size=$(du -h "$binary" | cut -f1)
log "built $binary ($size) in $((SECONDS - start))s"
printf '%s\n' "$binary"
