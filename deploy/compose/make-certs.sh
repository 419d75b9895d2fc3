#!/bin/sh
# Creates the TLS material docker-compose.yml mounts, with openssl only:
#
#   certs/ca.pem, certs/ca-key.pem           a private CA (trust ca.pem in your clients)
#   certs/controlplane/tls.crt, tls.key      admin API: controlplane, localhost, 127.0.0.1
#   certs/gateway/tls.crt, tls.key           gateways: localhost, 127.0.0.1, gateway-1,
#                                            gateway-2, and every extra name given
#
# Usage (from the repository root):
#   deploy/compose/make-certs.sh [extra gateway hostname ...]
#   CERTS_DIR=/elsewhere deploy/compose/make-certs.sh        # another output directory
#
# The first gateway name must be the host of PORTCULLIS_PUBLIC_URL (default
# https://localhost:8443). Running it again keeps the CA (clients keep trusting it) and
# reissues both server certificates; the planes reload them without a restart.
#
# The containers run as uid/gid 65532 and must read the keys: run this as root (sudo) so
# the keys are handed to 65532 with mode 0400, or do that yourself afterwards (printed).
# This CA is for one Docker host. In production use certificates from your PKI, or
# cert-manager with the Helm chart.
set -eu

dir=${CERTS_DIR:-$(dirname "$0")/certs}
days_ca=3650
days_leaf=397 # what browsers accept

command -v openssl >/dev/null || { echo "make-certs: openssl is required" >&2; exit 1; }
umask 077
mkdir -p "$dir/controlplane" "$dir/gateway"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ ! -f "$dir/ca.pem" ] || [ ! -f "$dir/ca-key.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" -days "$days_ca" \
    -subj "/CN=Portcullis compose CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  echo "make-certs: created CA $dir/ca.pem"
fi

# issue NAME HOST... : certs/NAME/tls.crt (chain: leaf, CA) and tls.key for the hosts.
issue() {
  name=$1; shift
  san=""
  seen=","
  for h in "$@"; do
    case $seen in *",$h,"*) continue ;; esac # a name given twice
    seen="$seen$h,"
    case $h in
      *[!0-9.]*) entry="DNS:$h" ;; # not a dotted IPv4 address
      *) entry="IP:$h" ;;
    esac
    san="${san:+$san,}$entry"
  done
  cat > "$tmp/$name.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$san
EXT
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$tmp/$name.key" -out "$tmp/$name.csr" -subj "/CN=$1" 2>/dev/null
  openssl x509 -req -in "$tmp/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$days_leaf" \
    -extfile "$tmp/$name.ext" -out "$tmp/$name.crt" 2>/dev/null
  cat "$tmp/$name.crt" "$dir/ca.pem" > "$tmp/$name.chain"
  # Replaced by rename, so a plane reloading its certificate never reads half a file.
  mv -f "$tmp/$name.key" "$dir/$name/tls.key"
  mv -f "$tmp/$name.chain" "$dir/$name/tls.crt"
  chmod 0755 "$dir/$name"
  chmod 0644 "$dir/$name/tls.crt"
  chmod 0400 "$dir/$name/tls.key"
  echo "make-certs: issued $dir/$name/tls.crt for $*"
}

issue controlplane controlplane localhost 127.0.0.1
issue gateway "$@" localhost 127.0.0.1 gateway-1 gateway-2
chmod 0755 "$dir"
chmod 0644 "$dir/ca.pem"

if [ "$(id -u)" = 0 ]; then
  chown 65532:65532 "$dir/controlplane/tls.key" "$dir/gateway/tls.key"
else
  echo "make-certs: the containers (uid 65532) cannot read the keys yet; run:"
  echo "  sudo chown 65532:65532 $dir/controlplane/tls.key $dir/gateway/tls.key"
fi
echo "make-certs: trust $dir/ca.pem in clients, e.g. curl --cacert $dir/ca.pem https://localhost:8443/healthz"
