#!/bin/sh
# kubeadm's whole certificate set made with cfssl (Debian golang-cfssl): the
# same 3 CAs, 9 leaf certificates, sa key pair and 5 kubeconfigs as
# openssl-full.sh, the way cfssl's docs script it. Run in an empty folder.
set -e
IP=192.0.2.10 NODE=cp-1 SERVER=https://192.0.2.10:6443
mkdir -p pki/etcd
cat > config.json <<'JSON'
{"signing":{"default":{"expiry":"8760h"},"profiles":{
 "server":{"expiry":"8760h","usages":["signing","key encipherment","server auth"]},
 "client":{"expiry":"8760h","usages":["signing","key encipherment","client auth"]},
 "peer":{"expiry":"8760h","usages":["signing","key encipherment","server auth","client auth"]}}}}
JSON
csr() { # CN O hosts(JSON list)
  printf '{"CN":"%s","key":{"algo":"rsa","size":2048},"names":[%s],"hosts":[%s]}' "$1" "${2:+{\"O\":\"$2\"\}}" "$3"
}
ca() { # path CN
  csr "$2" "" "\"$2\"" | cfssl gencert -initca - 2>/dev/null | cfssljson -bare "$1"
  mv "$1.pem" "$1.crt"; mv "$1-key.pem" "$1.key"; rm "$1.csr"
}
leaf() { # path ca profile CN O hosts
  csr "$4" "$5" "$6" | cfssl gencert -ca "$2.crt" -ca-key "$2.key" -config config.json -profile "$3" - 2>/dev/null | cfssljson -bare "$1"
  mv "$1.pem" "$1.crt"; mv "$1-key.pem" "$1.key"; rm "$1.csr"
}
kubeconfig() { # file CN O user server
  leaf "client-$1" pki/ca client "$2" "$3" ""
  cat > "$1" <<CONF
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: $(base64 -w0 pki/ca.crt)
    server: $5
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: $4
  name: $4@kubernetes
current-context: $4@kubernetes
kind: Config
preferences: {}
users:
- name: $4
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
leaf pki/apiserver pki/ca server kube-apiserver "" \
  "\"kubernetes\",\"kubernetes.default\",\"kubernetes.default.svc\",\"kubernetes.default.svc.cluster.local\",\"$NODE\",\"$IP\",\"10.96.0.1\""
leaf pki/apiserver-kubelet-client pki/ca client kube-apiserver-kubelet-client kubeadm:cluster-admins ""
leaf pki/front-proxy-client pki/front-proxy-ca client front-proxy-client "" ""
leaf pki/etcd/server pki/etcd/ca peer "$NODE" "" "\"$NODE\",\"localhost\",\"$IP\",\"127.0.0.1\",\"::1\""
leaf pki/etcd/peer pki/etcd/ca peer "$NODE" "" "\"$NODE\",\"localhost\",\"$IP\",\"127.0.0.1\",\"::1\""
leaf pki/etcd/healthcheck-client pki/etcd/ca client kube-etcd-healthcheck-client "" ""
leaf pki/apiserver-etcd-client pki/etcd/ca client kube-apiserver-etcd-client "" ""
csr sa "" "" | cfssl genkey - 2>/dev/null | cfssljson -bare pki/sa
mv pki/sa-key.pem pki/sa.key; rm pki/sa.csr
openssl rsa -in pki/sa.key -pubout -out pki/sa.pub 2>/dev/null
kubeconfig admin.conf kubernetes-admin kubeadm:cluster-admins kubernetes-admin $SERVER
kubeconfig super-admin.conf kubernetes-super-admin system:masters kubernetes-super-admin $SERVER
kubeconfig kubelet.conf "system:node:$NODE" system:nodes "system:node:$NODE" $SERVER
kubeconfig controller-manager.conf system:kube-controller-manager "" system:kube-controller-manager $SERVER
kubeconfig scheduler.conf system:kube-scheduler "" system:kube-scheduler $SERVER
rm config.json
chmod 600 pki/*.key pki/etcd/*.key
