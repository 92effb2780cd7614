#!/bin/sh
# Runs the ESP crypto benchmark, then `openssl speed -evp aes-128-gcm` on
# 1400-byte buffers in the same run (the ceiling), and prints the ratio of
# our cached-context AES-128-GCM seal to it.
set -e
bin=$1
secs=${2:-0.5}
osecs=$(awk -v s="$secs" 'BEGIN { n = int(s + 0.999); print (n < 1 ? 1 : n) }')
out=$("$bin" --seconds "$secs")
echo "$out" | grep -v '^RESULT'
echo
echo "== openssl speed -evp aes-128-gcm, 1400-byte buffers (ceiling)"
line=$(openssl speed -seconds "$osecs" -bytes 1400 -evp aes-128-gcm 2>/dev/null | tail -n 1)
echo "$line"
# openssl prints thousands of bytes per second, e.g. "AES-128-GCM  1234567.89k"
kbs=$(echo "$line" | awk '{ v = $NF; sub(/k$/, "", v); print v }')
ours=$(echo "$out" | awk '$1 == "RESULT" && $2 == "aes128gcm16_seal_ns" { print $3 }')
echo "$kbs $ours" | awk '{
    ns = 1400 / ($1 * 1000) * 1e9;
    printf "openssl: %.0f ns per 1400-byte packet; Isthmus ESP seal (cached): %.0f ns; ratio %.2f\n",
           ns, $2, $2 / ns }'
