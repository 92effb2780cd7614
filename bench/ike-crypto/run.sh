#!/bin/sh
# Runs the IKE crypto benchmark, then `openssl speed` for the same primitives
# in the same run: the ceiling our figures are compared with.
set -e
bin=$1
secs=${2:-1}
# openssl speed takes whole seconds
osecs=$(awk -v s="$secs" 'BEGIN { n = int(s + 0.999); print (n < 1 ? 1 : n) }')
echo "== Isthmus IKE crypto ($secs s per case)"
"$bin" --seconds "$secs"
echo
echo "== openssl speed (ceiling): AEAD/CBC throughput for 256 and 1200-byte buffers"
for c in aes-256-gcm aes-128-gcm chacha20-poly1305 aes-256-cbc; do
    openssl speed -seconds "$osecs" -bytes 256 -evp $c 2>/dev/null | tail -n 1
    openssl speed -seconds "$osecs" -bytes 1200 -evp $c 2>/dev/null | tail -n 1
done
echo "   (figures in 1000s of bytes per second; divide by 1000 for MB/s)"
echo
echo "== openssl speed (ceiling): key agreement, derive only"
openssl speed -seconds "$osecs" ecdhx25519 ecdhp256 ecdhp384 ffdh2048 ffdh3072 2>/dev/null \
    | grep -E "op/s|ecdh|ffdh" | tail -n 7
