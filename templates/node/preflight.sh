# preflight (read-only): gathers what kubeadm's preflight and kpki's own
# checks look at, as KPKIFACT lines; src/bootstrap/node/preflight.ts judges
# them (names, severities, --ignore-preflight-errors), so the rules live in
# one table. Runs on every host, whatever its distribution.
CRI_SOCKET={{cri_socket}}
# The kernel options SystemVerification judges (KERNEL_OPTIONS in preflight.ts), as an ERE alternation.
KERNEL_CONFIG_NAMES='{{kernel_config_names}}'
# A fact whose value is one line already: no subshell and tr (fact's), since a
# process start costs more than the rest of the check (dozens of facts per host).
pfact() { printf 'KPKIFACT\t%s\t%s\n' "$1" "$2"; }
# The first line of a file, with the shell's own read.
first_line() { v=; [ -r "$1" ] && read -r v < "$1"; printf '%s' "$v"; }
# The fleet checks compare hosts: identities, and this host's clock.
preflight_identity() {
  pfact clock "$(date +%s.%N 2>/dev/null || date +%s)"
  v=; [ -r /etc/machine-id ] && read -r v < /etc/machine-id; pfact machine_id "$v"
  v=; [ -r /sys/class/dmi/id/product_uuid ] && read -r v < /sys/class/dmi/id/product_uuid 2>/dev/null; pfact product_uuid "$v"
  macs=
  for dev in /sys/class/net/*; do
    name=${dev##*/}
    # Per-host virtual devices (bridges, veth pairs, CNI links) have made-up MACs: only real interfaces count.
    case "$name" in lo|veth*|docker*|cni*|flannel*|cali*|cilium*|kube-*|tunl*|vxlan*|br-*|virbr*) continue ;; esac
    [ -d "$dev/bridge" ] && continue
    mac=; read -r mac < "$dev/address" 2>/dev/null
    case "$mac" in ''|00:00:00:00:00:00) continue ;; esac
    macs="$macs $name=$mac"
  done
  pfact macs "${macs# }"
}
# Which CRI socket kubeadm would use: the one given, else the only one there.
preflight_cri() {
  found=
  for s in /var/run/containerd/containerd.sock /var/run/crio/crio.sock /var/run/cri-dockerd.sock; do [ -S "$s" ] && found="$found unix://$s"; done
  found=${found# }
  sock=$CRI_SOCKET
  if [ -z "$sock" ]; then
    case "$found" in
      *' '*) fact cri failed; fact cri_detail "several CRI sockets: $found: give --cri-socket (kubeadm needs one chosen)"; return ;;
      '') sock=unix:///var/run/containerd/containerd.sock ;;
      *) sock=$found ;;
    esac
  fi
  fact cri_socket "$sock"
  CRI_CHOSEN=$sock
  path=${sock#unix://}
  if [ ! -S "$path" ]; then fact cri failed; fact cri_detail "$path: no such socket: is the runtime running?"; return; fi
  t=; have timeout && t="timeout 10"
  if have crictl; then
    if out=$($t crictl --runtime-endpoint "$sock" version 2>&1); then fact cri ok; fact cri_detail "$(printf '%s' "$out" | awk '/RuntimeName|RuntimeVersion/ { printf "%s ", $2 }')(crictl)"
    else fact cri failed; fact cri_detail "crictl version: $(printf '%s' "$out" | tail -n 1)"; fi
  elif have curl; then
    # The CRI's Version call by hand: an empty request in gRPC's framing over HTTP/2 on the socket.
    out=$(printf '\0\0\0\0\0' | $t curl -sS --http2-prior-knowledge --unix-socket "$path" -X POST -H 'content-type: application/grpc' -H 'te: trailers' --data-binary @- -D - -o /dev/null http://localhost/runtime.v1.RuntimeService/Version 2>&1)
    status=$(printf '%s\n' "$out" | tr -d '\r' | sed -n 's/^grpc-status: *//p' | tail -n 1)
    if [ "$status" = 0 ]; then fact cri ok; fact cri_detail "runtime.v1.RuntimeService/Version answered on $path"
    else fact cri failed; fact cri_detail "$path did not answer the CRI (runtime.v1.RuntimeService/Version): $(printf '%s\n' "$out" | tr -d '\r' | sed -n 's/^grpc-message: *//p;s/^curl: //p' | tail -n 1)${status:+ (grpc-status $status)}"; fi
  else
    fact cri failed; fact cri_detail "cannot ask $path: neither crictl nor curl is installed"
  fi
}
preflight_versions() {
  fact kubelet_version "$(kubelet --version 2>/dev/null | head -n 1)"
  fact kubeadm_version "$(kubeadm version -o short 2>/dev/null | head -n 1)"
  state=absent
  if have systemctl && systemctl cat kubelet.service >/dev/null 2>&1; then
    [ "$(systemctl is-enabled kubelet 2>/dev/null)" = enabled ] && state=enabled || state=disabled
  fi
  pfact kubelet_service "$state"
}
preflight_system() {
  pfact uid "$(id -u)"
  pfact cpus "$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null || echo 0)"
  pfact memory_mb "$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo 2>/dev/null)"
  # uname, as system-validators ask (a /proc without sys/ still answers it).
  KERNEL_RELEASE=$(uname -r)
  pfact kernel "$KERNEL_RELEASE"
  fs=$(stat -fc %T /sys/fs/cgroup 2>/dev/null)
  pfact cgroupfs "$fs"
  if [ "$fs" = cgroup2fs ]; then pfact cgroup_controllers "$(first_line /sys/fs/cgroup/cgroup.controllers)"
  else pfact cgroup_controllers "$(awk '$1 !~ /^#/ && $4 != 0 { printf "%s ", $1 }' /proc/cgroups 2>/dev/null)"; fi
  pfact swaps "$(awk 'NR > 1 { n++ } END { print n + 0 }' /proc/swaps 2>/dev/null)"
  name=$(first_line /proc/sys/kernel/hostname)
  pfact hostname "$name"
  lower=$(printf '%s' "$name" | tr 'A-Z' 'a-z')
  if have getent; then getent hosts "$lower" >/dev/null 2>&1 && pfact hostname_resolves yes || pfact hostname_resolves no
  else pfact hostname_resolves unknown; fi
  # Listening TCP ports (state 0A) on any address, v4 and v6, as kubeadm's net.Listen would collide with.
  pfact listening "$(awk 'NR > 1 && $4 == "0A" { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u | while read -r hex; do printf '%d ' "0x$hex"; done)"
  missing=
  for b in conntrack ip iptables mount nsenter ebtables ethtool socat tc touch; do have "$b" || missing="$missing $b"; done
  pfact bins_missing "${missing# }"
  present=
  for f in /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/manifests/kube-controller-manager.yaml \
    /etc/kubernetes/manifests/kube-scheduler.yaml /etc/kubernetes/manifests/etcd.yaml /etc/kubernetes/kubelet.conf \
    /etc/kubernetes/bootstrap-kubelet.conf /etc/kubernetes/pki/ca.crt; do [ -e "$f" ] && present="$present $f"; done
  pfact files_present "${present# }"
  for d in /var/lib/etcd /etc/kubernetes/manifests; do
    key=dir_$(printf '%s' "$d" | tr '/' '_')
    if [ ! -e "$d" ]; then pfact "$key" absent; elif [ -n "$(ls -A "$d" 2>/dev/null)" ]; then pfact "$key" not-empty; else pfact "$key" empty; fi
  done
  pfact ip_forward "$(first_line /proc/sys/net/ipv4/ip_forward)"
  pfact ipv6_forwarding "$(first_line /proc/sys/net/ipv6/conf/default/forwarding)"
  if have firewall-cmd && firewall-cmd --state >/dev/null 2>&1; then pfact firewalld active; fact firewalld_ports "$(firewall-cmd --list-ports 2>/dev/null)"
  else pfact firewalld inactive; fi
}
# SystemVerification's kernel configuration, found as system-validators'
# kernel validator finds it: the first of these paths that exists (gzip for
# .gz); when none does, it loads the configs module (which provides
# /proc/config.gz), looks again and unloads it. Only the options judged leave the host.
preflight_kernel_config() {
  release=$KERNEL_RELEASE
  paths="/proc/config.gz /boot/config-$release /usr/src/linux-$release/.config /usr/src/linux/.config /usr/lib/modules/$release/config /usr/lib/ostree-boot/config-$release /usr/lib/kernel/config-$release /usr/src/linux-headers-$release/.config /lib/modules/$release/build/.config"
  kc_loaded= found=
  while :; do
    for p in $paths; do [ -e "$p" ] && { found=$p; break 2; }; done
    [ -n "$kc_loaded" ] && break
    if ! out=$(modprobe configs 2>&1); then pfact kernel_config modprobe-failed; fact kernel_config_detail "$out"; return; fi
    kc_loaded=yes
  done
  if [ -z "$found" ]; then pfact kernel_config none; pfact kernel_config_detail "$paths"
  else
    case "$found" in *.gz) reader="gzip -dc" ;; *) reader=cat ;; esac
    pfact kernel_config_path "$found"
    if out=$($reader "$found" 2>&1 >/dev/null); then
      pfact kernel_config found
      fact kernel_config_options "$($reader "$found" | sed -nE "s/^[[:space:]]*(CONFIG_($KERNEL_CONFIG_NAMES)=[myn]).*/\1/p")"
    else pfact kernel_config unreadable; fact kernel_config_detail "$out"; fi
  fi
  [ -n "$kc_loaded" ] && modprobe -r configs >/dev/null 2>&1
  return 0
}
# Proxies the way kubeadm sees them (its environment) plus /etc/environment, where
# hosts usually set them; and, beyond kubeadm, the Environment= of the containerd
# and kubelet units with their drop-ins (as systemd merged them): the runtime
# pulls and the kubelet reaches the API server through those. A proxy's
# user:password is masked before it leaves the host.
PROXY_VARS="HTTPS_PROXY https_proxy NO_PROXY no_proxy"
mask_proxy() { case "$1" in *@*) printf '%s' "$1" | sed 's#//[^@/]*@#//***@#' ;; *) printf '%s' "$1" ;; esac; }
preflight_proxy() {
  for v in $PROXY_VARS; do
    eval "val=\${$v:-}"
    [ -z "$val" ] && [ -r /etc/environment ] && val=$(sed -n "s/^[[:space:]]*\(export[[:space:]]\{1,\}\)\{0,1\}$v=//p" /etc/environment | tail -n 1 | tr -d "\"'")
    pfact "proxy_$v" "$(mask_proxy "$val")"
  done
  have systemctl || return 0
  for unit in containerd kubelet; do
    # -p without --value: systemd 219 (CentOS 7) has no --value.
    env=$(systemctl show -p Environment "$unit.service" 2>/dev/null | sed -n 's/^Environment=//p')
    [ -n "$env" ] || continue
    for v in $PROXY_VARS; do
      val=$(printf '%s\n' "$env" | tr ' ' '\n' | sed -n "s/^\"\{0,1\}$v=//p" | tail -n 1 | tr -d '"')
      [ -n "$val" ] && pfact "proxy_${unit}_$v" "$(mask_proxy "$val")"
    done
  done
  return 0
}
# Beyond kubeadm: modules, bridge sysctls, SELinux, the runtime's cgroup driver (containerd's, or Docker's behind cri-dockerd).
preflight_extras() {
  loaded=
  # The modules step's own test (modules.sh): a module built into the kernel counts as loaded.
  for m in overlay br_netfilter; do module_loaded "$m" && loaded="$loaded $m"; done
  pfact modules_loaded "${loaded# }"
  pfact bridge_nf_call_iptables "$(first_line /proc/sys/net/bridge/bridge-nf-call-iptables)"
  pfact bridge_nf_call_ip6tables "$(first_line /proc/sys/net/bridge/bridge-nf-call-ip6tables)"
  if have getenforce; then pfact selinux "$(getenforce 2>/dev/null)"; else pfact selinux absent; fi
  if have containerd; then
    # The effective configuration, as containerd reads it; the runc runtime's SystemdCgroup.
    pfact containerd_systemd_cgroup "$(containerd config dump 2>/dev/null | awk '
      /^[[:space:]]*\[/ { runc = ($0 ~ /runtimes\.runc\.options\]/) }
      runc && $1 == "SystemdCgroup" { v = $3 }
      END { print (v == "" ? "unset" : v) }')"
  else pfact containerd_systemd_cgroup absent; fi
  # With cri-dockerd the pods' runtime is Docker: its cgroup driver is the daemon's, as docker info reports it
  # (the Go template split in two quoted words: a rendered node script holds no two opening braces in a row,
  # the sign of a template value left unrendered).
  case "${CRI_CHOSEN:-}" in
    *cri-dockerd*)
      t=; have timeout && t="timeout 10"
      if ! have docker; then pfact docker_cgroup_driver absent
      elif out=$($t docker info -f '{''{.CgroupDriver}}' 2>&1); then fact docker_cgroup_driver "$out"
      else pfact docker_cgroup_driver unknown; fact docker_cgroup_detail "$(printf '%s' "$out" | tail -n 1)"; fi ;;
  esac
  fact kubelet_cgroup_driver "$(sed -n 's/^cgroupDriver:[[:space:]]*//p' /var/lib/kubelet/config.yaml 2>/dev/null | tr -d "\"'")"
}
step_preflight() {
  preflight_identity
  preflight_system
  preflight_kernel_config
  preflight_cri
  preflight_versions
  preflight_proxy
  preflight_extras
  # No step line: the checks are the report (KPKIFACT preflight marks that they ran).
  pfact preflight done
}
