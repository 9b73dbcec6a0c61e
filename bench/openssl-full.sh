#!/bin/sh
# kubeadm's whole certificate set made the way an operator would script it
# with openssl: 3 CAs, 9 leaf certificates, the sa key pair and 5 kubeconfigs
# (16 RSA-2048 keys). The peer `kpki init` is measured against. Run in an empty folder.
set -e
IP=192.0.2.10 NODE=cp-1 SERVER=https://192.0.2.10:6443
mkdir -p pki/etcd

ca() { # path CN
  openssl genrsa -out "$1.key" 2048 2>/dev/null
  openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 3650 -out "$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign" \
    -addext "subjectAltName=DNS:$2"
}
leaf() { # path ca subject extendedKeyUsage [subjectAltName]
  openssl genrsa -out "$1.key" 2048 2>/dev/null
  openssl req -new -key "$1.key" -subj "$3" -out "$1.csr"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$4"
    echo "authorityKeyIdentifier=keyid"
    [ -n "$5" ] && echo "subjectAltName=$5"
  } > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 365 -sha256 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm "$1.csr" "$1.ext"
}
kubeconfig() { # file subject user server
  leaf "client-$1" pki/ca "$2" clientAuth
  cat > "$1" <<CONF
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: $(base64 -w0 pki/ca.crt)
    server: $4
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: $3
  name: $3@kubernetes
current-context: $3@kubernetes
kind: Config
preferences: {}
users:
- name: $3
  user:
    client-certificate-data: $(base64 -w0 "client-$1.crt")
    client-key-data: $(base64 -w0 "client-$1.key")
CONF
  chmod 600 "$1"
  rm "client-$1.crt" "client-$1.key"
}

ca pki/ca kubernetes
ca pki/front-proxy-ca front-proxy-ca
ca pki/etcd/ca etcd-ca
leaf pki/apiserver pki/ca "/CN=kube-apiserver" serverAuth \
  "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:$NODE,IP:$IP,IP:10.96.0.1"
leaf pki/apiserver-kubelet-client pki/ca "/O=kubeadm:cluster-admins/CN=kube-apiserver-kubelet-client" clientAuth
leaf pki/front-proxy-client pki/front-proxy-ca "/CN=front-proxy-client" clientAuth
leaf pki/etcd/server pki/etcd/ca "/CN=$NODE" serverAuth,clientAuth "DNS:$NODE,DNS:localhost,IP:$IP,IP:127.0.0.1,IP:::1"
leaf pki/etcd/peer pki/etcd/ca "/CN=$NODE" serverAuth,clientAuth "DNS:$NODE,DNS:localhost,IP:$IP,IP:127.0.0.1,IP:::1"
leaf pki/etcd/healthcheck-client pki/etcd/ca "/CN=kube-etcd-healthcheck-client" clientAuth
leaf pki/apiserver-etcd-client pki/etcd/ca "/CN=kube-apiserver-etcd-client" clientAuth
openssl genrsa -out pki/sa.key 2048 2>/dev/null
openssl rsa -in pki/sa.key -pubout -out pki/sa.pub 2>/dev/null
kubeconfig admin.conf "/O=kubeadm:cluster-admins/CN=kubernetes-admin" kubernetes-admin $SERVER
kubeconfig super-admin.conf "/O=system:masters/CN=kubernetes-super-admin" kubernetes-super-admin $SERVER
kubeconfig kubelet.conf "/O=system:nodes/CN=system:node:$NODE" "system:node:$NODE" $SERVER
kubeconfig controller-manager.conf "/CN=system:kube-controller-manager" system:kube-controller-manager $SERVER
kubeconfig scheduler.conf "/CN=system:kube-scheduler" system:kube-scheduler $SERVER
chmod 600 pki/*.key pki/etcd/*.key
