#!/usr/bin/env bash
# System tools the test suite uses beside Python and Go, from Debian's packages:
# the openssl command line (tests/identity/test_identity_openssl.py checks that the
# CA's files are standard) and iproute2's `ip` (tests/network/test_network_hosts.py
# puts nodes on hosts of their own: network namespaces on a private bridge).
# Idempotent: does nothing when every tool is present.
set -euo pipefail

missing=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v ip >/dev/null 2>&1 || [[ -x /usr/sbin/ip || -x /sbin/ip ]] || missing+=(iproute2)
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-system: installing ${missing[*]} (apt-get)" >&2
SUDO=""
[[ "$(id -u)" -eq 0 ]] || SUDO="sudo"
command -v apt-get >/dev/null 2>&1 || { echo "install-system: error: no apt-get; install ${missing[*]} by hand" >&2; exit 1; }
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
