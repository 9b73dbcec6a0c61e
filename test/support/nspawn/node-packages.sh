# Run once inside the freshly debootstrapped Debian 12 (chroot, Debian's
# archive still in sources.list), before image.sh: what the runtime and
# kubelet steps need, until kpki's packages step installs it from the test
# repositories (then this script is not run: see packages.ts).
#   containerd: Debian's real package, installed by real apt, left disabled
#     and stopped (its postinst enables it) so that prep has real work.
#   kubelet: a stand-in program (no kubelet exists here) with the unit files
#     of pkgs.k8s.io's kubelet package, crash-looping until kubeadm writes
#     /var/lib/kubelet/config.yaml, as a real kubelet does.
set -eu
KUBELET_VERSION=$1
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends containerd >/dev/null
systemctl disable containerd.service >/dev/null 2>&1
apt-get clean

cat > /usr/bin/kubelet <<KUBELET
#!/bin/sh
# kpki test stand-in for kubelet $KUBELET_VERSION: the real one's version line and
# its exit when kubeadm has not written its configuration yet; otherwise it waits.
config=
for arg in "\$@"; do
  case "\$arg" in
    --version) echo "Kubernetes v$KUBELET_VERSION"; exit 0 ;;
    --config=*) config=\${arg#--config=} ;;
  esac
done
if [ -n "\$config" ] && [ ! -f "\$config" ]; then
  echo "E0101 00:00:00.000000 \$\$ run.go:72] \"command failed\" err=\"failed to load kubelet config file, path: \$config, error: open \$config: no such file or directory\"" >&2
  exit 1
fi
exec sleep infinity
KUBELET
chmod 755 /usr/bin/kubelet

cat > /lib/systemd/system/kubelet.service <<'UNIT'
[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
UNIT
mkdir -p /lib/systemd/system/kubelet.service.d
cat > /lib/systemd/system/kubelet.service.d/10-kubeadm.conf <<'UNIT'
# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# This is a file that "kubeadm init" and "kubeadm join" generates at runtime, populating the KUBELET_KUBEADM_ARGS variable dynamically
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
# This is a file that the user can use for overrides of the kubelet args as a last resort. Preferably, the user should use
# the .NodeRegistration.KubeletExtraArgs object in the configuration files instead. KUBELET_EXTRA_ARGS should be sourced from this file.
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
UNIT
