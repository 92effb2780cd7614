#!/usr/bin/env bash
# Installs, with apt, everything Isthmus needs to build, run and test.
# Idempotent: when every package is already present it returns at once.
set -euo pipefail

PKGS=(
  # build
  build-essential pkg-config make gcc clang clang-format clang-tidy cppcheck
  libclang-rt-14-dev llvm
  # libraries
  libmicrohttpd-dev libsqlite3-dev sqlite3 libssl-dev openssl libev-dev
  libjson-c-dev libradcli-dev libinih-dev libcmocka-dev liburcu-dev
  libbpf-dev  # the AF_XDP receive path: its XDP program is built with clang -target bpf
  # tests: python from Debian
  python3 python3-pytest python3-requests python3-yaml python3-jsonschema
  python3-cryptography  # ESP packets sealed by tests/system/test_esp_traffic.py
  # real peers and network tools
  strongswan-charon strongswan-swanctl libcharon-extra-plugins
  libstrongswan-extra-plugins strongswan-pki
  libcharon-extauth-plugins libstrongswan-standard-plugins  # eap-mschapv2; openssl, gcm
  freeradius freeradius-utils
  iperf3 iputils-ping iproute2 nftables procps util-linux wrk
)
# The OpenAPI linter runs on Node.js; this machine image ships node and npm
# outside apt, so Debian's npm is only installed where none is present.
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # FreeRADIUS and strongSwan must not run as system services: tests start
  # their own private instances in network namespaces.
  for svc in freeradius strongswan-starter strongswan ipsec; do
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  done
fi

# The OpenAPI linter, in a local folder (never global).
here=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -x "$here/deploy/node_modules/.bin/redocly" ]; then
  if command -v npm >/dev/null 2>&1; then
    (cd "$here/deploy" && npm install --silent --no-audit --no-fund \
      --prefix "$here/deploy" @redocly/cli@2.77.0 >/dev/null 2>&1) ||
      echo "install-deps: warning: could not install @redocly/cli"
  fi
fi
echo "install-deps: all dependencies present"
