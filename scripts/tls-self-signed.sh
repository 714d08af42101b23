#!/bin/sh
# The `tls-cert` one-shot of docker-compose.yml: makes a self-signed certificate for localhost on
# the stack's first start, in the directory nginx reads its certificate from (mounted here on
# /certs, in nginx on /etc/rivulet/tls; nginx/certificate.conf names the files). A certificate
# that is already there (an earlier start's, or your own, mounted with TLS_CERT_DIR) is left
# alone, so it is made once and kept in the tls-certs volume. README.md ("Deploy", HTTPS).
#   sh scripts/tls-self-signed.sh [directory]     (default /certs)
set -eu

dir="${1:-/certs}"
cert="$dir/fullchain.pem"
key="$dir/privkey.pem"

if [ -s "$cert" ] && [ -s "$key" ]; then
  echo "tls-cert: $dir already holds fullchain.pem and privkey.pem; using them"
  exit 0
fi
if [ -e "$cert" ] || [ -e "$key" ]; then
  echo "tls-cert: $dir holds only one of fullchain.pem and privkey.pem (or an empty one); put both there, or neither to get a self-signed pair" >&2
  exit 1
fi

# The alpine image has no openssl command; fetch it only when a certificate has to be made.
if ! command -v openssl >/dev/null 2>&1; then
  apk add --no-cache --quiet openssl
fi

mkdir -p "$dir"
# The key is readable by its owner only (nginx's master process reads it as root).
umask 077
# ECDSA P-256: small, fast, accepted by every current browser. 825 days is the longest validity
# Apple platforms accept for a TLS server certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
  -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
  -addext "extendedKeyUsage=serverAuth" \
  -keyout "$key.tmp" -out "$cert.tmp" 2>/dev/null
chmod 644 "$cert.tmp"
# Renamed into place only when both are complete: a crash halfway leaves no half pair behind.
mv "$key.tmp" "$key"
mv "$cert.tmp" "$cert"
echo "tls-cert: made a self-signed certificate for localhost in $dir (valid 825 days)"
