#!/usr/bin/env bash
# Build a real tidb-server (TiDB v8.5.6) from the Go module proxy.
#
# Output: ${SQUID_DATA_DIR:-/work/main/.stack}/bin/tidb-server
# Idempotent: does nothing when that binary exists and is newer than go.mod
# and go.sum (set FORCE=1 to rebuild anyway).
#
# Environment knobs:
#   SQUID_DATA_DIR     data dir (default /work/main/.stack)
#   GO                 go command (default: `go` on PATH, else /usr/local/go/bin/go)
#   TIDB_BUILD_PROCS   parallel compile jobs, `go build -p` (default 2)
#   TIDB_BUILD_NICE    nice level for the build (default 10)
#   FORCE=1            rebuild even if the binary is up to date
#
# A first build downloads ~280 modules and compiles ~1,100 packages; see
# README.md for measured time and disk use.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA_DIR="${SQUID_DATA_DIR:-/work/main/.stack}"
OUT_DIR="${DATA_DIR}/bin"
OUT="${OUT_DIR}/tidb-server"
LOG_DIR="${DATA_DIR}/logs"
LOG="${LOG_DIR}/tidb-build.log"

# Must match go.mod: the TiDB release this module pins.
TIDB_RELEASE="v8.5.6"
TIDB_COMMIT="ae18096e023780bb56bfce33698abec0d4640d0a"

PROCS="${TIDB_BUILD_PROCS:-2}"
NICE="${TIDB_BUILD_NICE:-10}"

log() { printf '[tidb-build] %s\n' "$*"; }

if [[ -n "${GO:-}" ]]; then
  :
elif command -v go >/dev/null 2>&1; then
  GO="$(command -v go)"
elif [[ -x /usr/local/go/bin/go ]]; then
  GO=/usr/local/go/bin/go
else
  log "ERROR: no go command found (set GO=/path/to/go)" >&2
  exit 1
fi

if [[ "${FORCE:-0}" != "1" && -x "$OUT" && "$OUT" -nt "$HERE/go.mod" && "$OUT" -nt "$HERE/go.sum" ]]; then
  log "up to date: $OUT (newer than go.mod/go.sum; FORCE=1 to rebuild)"
  exit 0
fi

mkdir -p "$OUT_DIR" "$LOG_DIR"
cd "$HERE"

log "go: $("$GO" version)"
log "TiDB ${TIDB_RELEASE} (commit ${TIDB_COMMIT})"
log "module cache: $("$GO" env GOMODCACHE)  build cache: $("$GO" env GOCACHE)"
log "building github.com/pingcap/tidb/cmd/tidb-server -> $OUT (nice ${NICE}, -p ${PROCS}); full log: $LOG"

LDFLAGS="-X 'github.com/pingcap/tidb/pkg/parser/mysql.TiDBReleaseVersion=${TIDB_RELEASE}'"
LDFLAGS+=" -X 'github.com/pingcap/tidb/pkg/util/versioninfo.TiDBGitHash=${TIDB_COMMIT}'"
LDFLAGS+=" -X 'github.com/pingcap/tidb/pkg/util/versioninfo.TiDBGitBranch=release-8.5'"
LDFLAGS+=" -X 'github.com/pingcap/tidb/pkg/util/versioninfo.TiDBBuildTS=$(date -u '+%Y-%m-%d %H:%M:%S')'"
LDFLAGS+=" -X 'github.com/pingcap/tidb/pkg/util/versioninfo.TiDBEdition=Community'"

TMP_OUT="${OUT}.tmp.$$"
trap 'rm -f "$TMP_OUT"' EXIT

start=$(date +%s)
: >"$LOG"
# -v prints one line per package compiled: keep it in the log, show a
# progress line every 100 packages. -mod=readonly: never rewrite go.mod.
# `-tags codes` is what TiDB's own Makefile uses for tidb-server.
CGO_ENABLED=1 nice -n "$NICE" "$GO" build -mod=readonly -p "$PROCS" -tags codes -v \
  -ldflags "$LDFLAGS" -o "$TMP_OUT" github.com/pingcap/tidb/cmd/tidb-server 2>&1 |
  {
    n=0
    while IFS= read -r line; do
      printf '%s\n' "$line" >>"$LOG"
      case "$line" in
        "go: downloading "*) ;;
        *) n=$((n + 1)); if ((n % 100 == 0)); then log "... $n packages built ($(($(date +%s) - start))s)"; fi ;;
      esac
      case "$line" in
        *error*|*"cannot "*|*"undefined"*) printf '%s\n' "$line" >&2 ;;
      esac
    done
  } || {
    log "ERROR: go build failed after $(($(date +%s) - start))s; last lines of $LOG:" >&2
    tail -n 40 "$LOG" >&2
    exit 1
  }

mv -f "$TMP_OUT" "$OUT"
trap - EXIT
log "built $OUT in $(($(date +%s) - start))s ($(du -h "$OUT" | cut -f1))"
"$OUT" -V | sed 's/^/[tidb-build]   /'
