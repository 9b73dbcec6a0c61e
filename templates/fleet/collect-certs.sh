# kpki certs check-expiration over SSH: prints the node's certificates and
# nothing else. Private keys never leave the node: of a PEM file only its
# CERTIFICATE blocks are printed (kubelet-client-current.pem holds the key
# too), of a kubeconfig only its certificate and CA lines (never
# client-key-data), and of a key file only that it exists.
LC_ALL=C
export LC_ALL
TAB=$(printf '\t')

certs_of() {
  if [ -r "$1" ]; then
    printf 'KPKIFILE\tcert\t%s\n' "$1"
    sed -n '/^-----BEGIN CERTIFICATE-----/,/^-----END CERTIFICATE-----/p' "$1"
  else
    printf 'KPKIFILE\tunreadable\t%s\n' "$1"
  fi
  printf 'KPKIEND\n'
}

for file in /etc/kubernetes/pki/*.crt /etc/kubernetes/pki/etcd/*.crt; do
  [ -e "$file" ] && certs_of "$file"
done
for file in /etc/kubernetes/pki/*.key /etc/kubernetes/pki/etcd/*.key; do
  [ -e "$file" ] && printf 'KPKIKEY\t%s\n' "$file"
done
for file in /etc/kubernetes/*.conf; do
  [ -e "$file" ] || continue
  if [ -r "$file" ]; then
    printf 'KPKIFILE\tkubeconfig\t%s\n' "$file"
    sed -n -E "s/^[[:space:]]*(certificate-authority-data|client-certificate-data|certificate-authority|client-certificate):[[:space:]]*[\"']?([^\"']*)[\"']?[[:space:]]*\$/\\1${TAB}\\2/p" "$file"
  else
    printf 'KPKIFILE\tunreadable\t%s\n' "$file"
  fi
  printf 'KPKIEND\n'
done
for file in /var/lib/kubelet/pki/kubelet-client-current.pem /var/lib/kubelet/pki/kubelet.crt /var/lib/kubelet/pki/kubelet-server-current.pem; do
  [ -e "$file" ] && certs_of "$file"
done
exit 0
