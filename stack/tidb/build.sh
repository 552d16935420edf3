#!/usr/bin/env bash
# Build a real tidb-server (TiDB v8.5.6) from the Go module proxy.
#
# Output: ${SQUID_DATA_DIR:-<repository>/.stack}/bin/tidb-server
# Idempotent: does nothing when that binary exists and is newer than go.mod,
# go.sum and this script (FORCE=1 rebuilds anyway).
#
# Environment knobs:
#   SQUID_DATA_DIR     data dir (default: .stack in the repository)
#   GO                 go command (default: `go` on PATH, else /usr/local/go/bin/go)
#   TIDB_BUILD_PROCS   parallel compile jobs, `go build -p` (default 2)
#   TIDB_BUILD_NICE    nice level for the build (default 10)
#   FORCE=1            rebuild even if the binary is up to date
#
# Go version: TiDB v8.5.6 is released with Go 1.25 and its package
# pkg/util/hack panics at start-up unless runtime.Version() contains "go1.25"
# (it reads Go's swiss-map internals). With Go 1.25.x the module is built as
# is. With Go 1.26.x -- whose map ABI is identical (checked field by field,
# and TiDB's own TestSwissTable passes) -- this script builds from a copy of
# the TiDB module source in which only that guard also accepts "go1.26".
# Any other Go version is refused. See README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA_DIR="${SQUID_DATA_DIR:-$(cd "$HERE/../.." && pwd)/.stack}"
OUT_DIR="${DATA_DIR}/bin"
OUT="${OUT_DIR}/tidb-server"
LOG_DIR="${DATA_DIR}/logs"
LOG="${LOG_DIR}/tidb-build.log"
WORK="${DATA_DIR}/build/tidb"

# Must match go.mod: the TiDB release this module pins.
TIDB_MODULE="github.com/pingcap/tidb"
TIDB_RELEASE="v8.5.6"
TIDB_COMMIT="ae18096e023780bb56bfce33698abec0d4640d0a"

PROCS="${TIDB_BUILD_PROCS:-2}"
NICE="${TIDB_BUILD_NICE:-10}"

log() { printf '[tidb-build] %s\n' "$*"; }
die() { printf '[tidb-build] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ -n "${GO:-}" ]]; then
  :
elif command -v go >/dev/null 2>&1; then
  GO="$(command -v go)"
elif [[ -x /usr/local/go/bin/go ]]; then
  GO=/usr/local/go/bin/go
else
  die "no go command found (set GO=/path/to/go)"
fi

# One build at a time: `make test` starts one in the background while the MariaDB pass runs,
# and the TiDB pass's `stack up` then waits here for it instead of building a second copy.
mkdir -p "$DATA_DIR/build"
exec 9>"$DATA_DIR/build/tidb-build.lock"
if ! flock -n 9; then
  log "another build of tidb-server is running; waiting for it"
  flock 9
fi

if [[ "${FORCE:-0}" != "1" && -x "$OUT" && "$OUT" -nt "$HERE/go.mod" && "$OUT" -nt "$HERE/go.sum" \
      && "$OUT" -nt "${BASH_SOURCE[0]}" ]]; then
  log "up to date: $OUT (FORCE=1 to rebuild)"
  exit 0
fi

mkdir -p "$OUT_DIR" "$LOG_DIR"
cd "$HERE"

GOVERSION="$("$GO" env GOVERSION)"
case "$GOVERSION" in
  go1.25|go1.25.*) PATCH_ABI_GUARD=0 ;;
  go1.26|go1.26.*) PATCH_ABI_GUARD=1 ;;
  *) die "$GOVERSION: TiDB ${TIDB_RELEASE} needs Go 1.25.x (or 1.26.x with the checked map-ABI guard patch); see README.md" ;;
esac

log "go: $("$GO" version)"
log "TiDB ${TIDB_RELEASE} (commit ${TIDB_COMMIT})"
log "module cache: $("$GO" env GOMODCACHE)  build cache: $("$GO" env GOCACHE)"

BUILD_DIR="$HERE"
if [[ "$PATCH_ABI_GUARD" == 1 ]]; then
  log "fetching ${TIDB_MODULE} source through the module proxy (go mod download)"
  SRC="$("$GO" mod download -json "$TIDB_MODULE" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -n "$SRC" && -f "$SRC/pkg/util/hack/map_abi.go" ]] || die "go mod download gave no source dir for $TIDB_MODULE"
  log "preparing patched copy in $WORK (only pkg/util/hack/map_abi.go changes: guard accepts go1.25 and go1.26)"
  rm -rf "$WORK"
  mkdir -p "$WORK"
  cp -r "$SRC" "$WORK/src"
  chmod -R u+w "$WORK/src"
  f="$WORK/src/pkg/util/hack/map_abi.go"
  old='if !strings.Contains(runtime.Version(), `go1.25`) {'
  new='if !strings.Contains(runtime.Version(), `go1.25`) \&\& !strings.Contains(runtime.Version(), `go1.26`) {'
  grep -qF "$old" "$f" || die "expected guard not found in $f: refusing to build an unchecked patch"
  sed -i "s/${old}/${new}/" "$f"
  grep -qF '`go1.26`' "$f" || die "patching $f failed"
  cp "$HERE/go.mod" "$HERE/go.sum" "$WORK/"
  printf '\n// Added by build.sh: the patched copy of the module source above.\nreplace %s => ./src\n' "$TIDB_MODULE" >>"$WORK/go.mod"
  BUILD_DIR="$WORK"
fi

log "building ${TIDB_MODULE}/cmd/tidb-server (nice ${NICE}, -p ${PROCS}); full log: $LOG"

LDFLAGS="-X 'github.com/pingcap/tidb/pkg/parser/mysql.TiDBReleaseVersion=${TIDB_RELEASE}'"
LDFLAGS+=" -X 'github.com/pingcap/tidb/pkg/util/versioninfo.TiDBGitHash=${TIDB_COMMIT}'"
LDFLAGS+=" -X 'github.com/pingcap/tidb/pkg/util/versioninfo.TiDBGitBranch=release-8.5'"
LDFLAGS+=" -X 'github.com/pingcap/tidb/pkg/util/versioninfo.TiDBBuildTS=$(date -u '+%Y-%m-%d %H:%M:%S')'"
LDFLAGS+=" -X 'github.com/pingcap/tidb/pkg/util/versioninfo.TiDBEdition=Community'"

TMP_OUT="${OUT}.tmp.$$"
trap 'rm -f "$TMP_OUT"' EXIT

start=$(date +%s)
: >"$LOG"
# -v prints one line per package compiled: keep them in the log, show a
# progress line every 100 packages, pass compiler errors through.
# -mod=readonly: never rewrite go.mod. `-tags codes` is what TiDB's own
# Makefile uses for tidb-server.
(cd "$BUILD_DIR" && CGO_ENABLED=1 nice -n "$NICE" "$GO" build -mod=readonly -p "$PROCS" -tags codes -v \
  -ldflags "$LDFLAGS" -o "$TMP_OUT" "${TIDB_MODULE}/cmd/tidb-server") 2>&1 |
  {
    n=0
    while IFS= read -r line; do
      printf '%s\n' "$line" >>"$LOG"
      case "$line" in
        "go: downloading "*) ;;
        "# "*|*.go:[0-9]*|"go: "*) printf '%s\n' "$line" >&2 ;;
        *) n=$((n + 1)); if ((n % 100 == 0)); then log "... $n packages built ($(($(date +%s) - start))s)"; fi ;;
      esac
    done
  } || {
    log "ERROR: go build failed after $(($(date +%s) - start))s; last lines of $LOG:" >&2
    tail -n 40 "$LOG" >&2
    exit 1
  }

# Check that the binary starts (prints its version) before installing it.
"$TMP_OUT" -V >"$LOG_DIR/tidb-version.txt" 2>&1 || {
  cat "$LOG_DIR/tidb-version.txt" >&2
  die "built binary does not run"
}
mv -f "$TMP_OUT" "$OUT"
trap - EXIT
[[ "$BUILD_DIR" == "$WORK" ]] && rm -rf "$WORK/src"
log "built $OUT in $(($(date +%s) - start))s ($(du -h "$OUT" | cut -f1))"
sed 's/^/[tidb-build]   /' "$LOG_DIR/tidb-version.txt"
