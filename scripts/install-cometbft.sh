#!/usr/bin/env bash
# Install the one pinned CometBFT release into <repo>/.tools/bin and make sure its
# module source (with the .proto files) and the gogoproto module it requires are in
# the Go module cache. Idempotent: re-running with the pinned binary present only
# re-checks the module cache (a no-op when it is already populated).
#
# The pin lives in src/baychain/abci/version.py (COMETBFT_VERSION); this script reads it.
#
# Usage: scripts/install-cometbft.sh [--force]
set -euo pipefail

die() { echo "install-cometbft: error: $*" >&2; exit 1; }
log() { echo "install-cometbft: $*" >&2; }

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION_FILE="$REPO/src/baychain/abci/version.py"
BIN_DIR="$REPO/.tools/bin"
BIN="$BIN_DIR/cometbft"
MODULE="github.com/cometbft/cometbft"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

[[ -f "$VERSION_FILE" ]] || die "pin file $VERSION_FILE not found"
TAG="$(sed -n 's/^COMETBFT_VERSION *= *"\(v[0-9][0-9.]*\)".*/\1/p' "$VERSION_FILE" | head -n1)"
[[ -n "$TAG" ]] || die "could not read COMETBFT_VERSION from $VERSION_FILE"
[[ "$TAG" == v0.38.* ]] || die "pinned version $TAG is not on the v0.38 line (ABCI 2.0, tendermint.* protos)"
WANT="${TAG#v}"

command -v go >/dev/null 2>&1 || die "the Go toolchain ('go') is not on PATH; install Go >= 1.22 first"

# Print the bare semantic version a cometbft binary reports ("0.38.26"), or nothing.
binary_version() {
    [[ -x "$1" ]] || return 0
    "$1" version 2>/dev/null | head -n1 | sed -e 's/^v//' -e 's/[+-].*$//' | tr -d '[:space:]' || true
}

# 1. The binary.
have="$(binary_version "$BIN")"
if [[ $FORCE -eq 0 && "$have" == "$WANT" ]]; then
    log "cometbft $TAG already installed at $BIN"
else
    [[ -n "$have" ]] && log "found cometbft $have at $BIN, want $WANT: reinstalling"
    log "building cometbft $TAG (go install; takes a few minutes) ..."
    mkdir -p "$BIN_DIR"
    GOBIN="$BIN_DIR" go install "$MODULE/cmd/cometbft@$TAG" \
        || die "go install $MODULE/cmd/cometbft@$TAG failed (is the Go module proxy reachable?)"
    have="$(binary_version "$BIN")"
    [[ "$have" == "$WANT" ]] \
        || die "installed binary $BIN reports version '${have:-<none>}', expected $WANT"
    log "installed cometbft $have at $BIN"
fi

# 2. Module sources for the .proto files: cometbft itself and the gogoproto it requires.
modjson="$(go mod download -json "$MODULE@$TAG")" \
    || die "go mod download $MODULE@$TAG failed"
gomod="$(printf '%s\n' "$modjson" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' | head -n1)"
moddir="$(printf '%s\n' "$modjson" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1)"
[[ -n "$moddir" && -d "$moddir/proto/tendermint/abci" ]] \
    || die "module source for $MODULE@$TAG has no proto/tendermint/abci (dir: '${moddir:-?}')"
[[ -n "$gomod" && -f "$gomod" ]] || die "go.mod of $MODULE@$TAG not found in the module cache"

GOGO_VERSION="$(awk '$1 == "github.com/cosmos/gogoproto" && $2 ~ /^v/ {print $2; exit}' "$gomod")"
[[ -n "$GOGO_VERSION" ]] || die "go.mod of $MODULE@$TAG does not require github.com/cosmos/gogoproto"
gogojson="$(go mod download -json "github.com/cosmos/gogoproto@$GOGO_VERSION")" \
    || die "go mod download github.com/cosmos/gogoproto@$GOGO_VERSION failed"
gogodir="$(printf '%s\n' "$gogojson" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1)"
[[ -f "$gogodir/gogoproto/gogo.proto" ]] \
    || die "gogoproto/gogo.proto not found in github.com/cosmos/gogoproto@$GOGO_VERSION ($gogodir)"

log "proto sources: $moddir/proto (gogoproto $GOGO_VERSION)"
echo "$BIN"
