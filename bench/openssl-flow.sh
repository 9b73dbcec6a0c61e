#!/bin/sh
# The seed's / Kubernetes docs' openssl flow for a CA and an API server
# certificate: the work `kpki init --master-ip` replaces. Run in an empty folder.
set -e
# KEY=ec uses P-256 keys instead of RSA-2048 (the same work as kpki --key-type ecdsa-p256).
MASTER_IP=${1:-192.0.2.10}
MASTER_CLUSTER_IP=${2:-10.96.0.1}
genkey() {
  if [ "${KEY:-rsa}" = ec ]; then openssl ecparam -name prime256v1 -genkey -noout -out "$1"
  else openssl genrsa -out "$1" 2048 2>/dev/null; fi
}
genkey ca.key
openssl req -x509 -new -nodes -key ca.key -subj "/CN=kubernetes" -days 3650 -out ca.crt
genkey server.key
cat > csr.conf <<CONF
[ req ]
default_bits = 2048
prompt = no
default_md = sha256
req_extensions = req_ext
distinguished_name = dn

[ dn ]
CN = kube-apiserver

[ req_ext ]
subjectAltName = @alt_names

[ alt_names ]
DNS.1 = kubernetes
DNS.2 = kubernetes.default
DNS.3 = kubernetes.default.svc
DNS.4 = kubernetes.default.svc.cluster
DNS.5 = kubernetes.default.svc.cluster.local
IP.1 = ${MASTER_IP}
IP.2 = ${MASTER_CLUSTER_IP}

[ v3_ext ]
authorityKeyIdentifier=keyid,issuer:always
basicConstraints=CA:FALSE
keyUsage=keyEncipherment,dataEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=@alt_names
CONF
openssl req -new -key server.key -out server.csr -config csr.conf
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 365 \
  -extensions v3_ext -extfile csr.conf -sha256 2>/dev/null
