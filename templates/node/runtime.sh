# runtime: the container runtime enabled, started and answering on its CRI
# socket (crictl info: RuntimeReady), /etc/crictl.yaml naming that socket,
# and kubeadm's --cri-socket named when the host has several CRI sockets.
CRICTL_CONFIG=/etc/crictl.yaml
# The sockets kubeadm looks for when it is given none (kubeadm's constants).
KUBEADM_CRI_SOCKETS="/var/run/containerd/containerd.sock /var/run/crio/crio.sock /var/run/cri-dockerd.sock"

# cri_status SOCKET: crictl info on it; 0 when the runtime is ready, with
# CRI_DETAIL saying what it answered (or why it did not).
cri_status() {
  if ! out=$(crictl --runtime-endpoint "$1" --timeout 5 info 2>&1); then
    CRI_DETAIL=$(printf '%s\n' "$out" | grep -v 'level=warning' | tail -n 1 | sed 's/^time="[^"]*" level=[a-z]* msg=//')
    return 1
  fi
  # Each condition is an object with "type" and "status" (key order varies by crictl version).
  conditions=$(printf '%s\n' "$out" | awk '
    /^[ \t]*\{/ { type = ""; status = "" }
    /"type":/ { type = $0; sub(/.*"type":[ \t]*"/, "", type); sub(/".*/, "", type) }
    /"status":[ \t]*(true|false)/ { status = ($0 ~ /true/) ? "true" : "false" }
    /^[ \t]*\}/ { if (type != "") print type "=" status; type = "" }')
  case "$conditions" in
    *RuntimeReady=true*) ;;
    *) CRI_DETAIL="it answers but is not ready ($(echo $conditions))"; return 1 ;;
  esac
  CRI_DETAIL="crictl info: RuntimeReady"
  case "$conditions" in *NetworkReady=false*) CRI_DETAIL="$CRI_DETAIL; NetworkReady false until a CNI plugin is installed (expected)" ;; esac
  return 0
}

# cri_answers SOCKET: cri_status, retried for 5 s in apply mode (a runtime
# kpki just started or restarted may not listen yet).
cri_answers() {
  cri_status "$1" && return 0
  [ "$MODE" = check ] && return 1
  tries=0
  while [ $tries -lt 5 ]; do
    sleep 1
    cri_status "$1" && return 0
    tries=$((tries + 1))
  done
  return 1
}

# crictl_config SOCKET: /etc/crictl.yaml names it; sets CRICTL_STATE.
crictl_config() {
  want="runtime-endpoint: $1
image-endpoint: $1
timeout: 10"
  if [ -r "$CRICTL_CONFIG" ] && grep -qx "runtime-endpoint: $1" "$CRICTL_CONFIG" && grep -qx "image-endpoint: $1" "$CRICTL_CONFIG"; then CRICTL_STATE=ok; return 0; fi
  if [ "$MODE" = check ]; then CRICTL_STATE=would-change; return 0; fi
  [ -e "$CRICTL_CONFIG" ] && cp -p "$CRICTL_CONFIG" "$CRICTL_CONFIG.kpki-$(date +%Y%m%d%H%M%S)"
  if printf '%s\n' "$want" >"$CRICTL_CONFIG.kpki-new" && mv -f "$CRICTL_CONFIG.kpki-new" "$CRICTL_CONFIG"; then CRICTL_STATE=changed; else CRICTL_STATE=failed; fi
}

step_runtime() {
  chosen_runtime
  runtime=$CHOSEN_RUNTIME
  if [ "$FAMILY" = rhel ]; then hint="yum install -y containerd.io (Docker's repository)"; else hint="apt-get install -y containerd"; fi
  case "$runtime" in
    none)
      if [ "$MODE" = check ] && [ "$PKG_PENDING" = yes ]; then emit runtime would-change "no container runtime installed yet: the packages step installs containerd"; return 0; fi
      emit runtime failed "no container runtime installed: $hint, then run kpki node prep again"; return 1 ;;
    containerd) socket=${CTD_CRI_SOCKET:-unix:///run/containerd/containerd.sock} ;;
    docker)
      # Docker Engine has no CRI since Kubernetes 1.24 removed dockershim: cri-dockerd is it.
      socket=unix:///var/run/cri-dockerd.sock
      if ! unit_installed cri-docker.socket && ! unit_installed cri-docker && [ ! -S /var/run/cri-dockerd.sock ]; then
        emit runtime failed "--runtime docker needs cri-dockerd (Docker Engine has no CRI of its own since Kubernetes 1.24): no cri-docker.socket and no /var/run/cri-dockerd.sock here; install cri-dockerd, or use containerd (--runtime containerd)"
        return 1
      fi
      service_ensure docker "install docker-ce (or docker.io)" || { emit runtime failed "$SERVICE_DETAIL"; return 1; }
      docker_state=$SERVICE_STATE docker_detail=$SERVICE_DETAIL
      cri_unit=cri-docker.socket
      unit_installed cri-docker.socket || cri_unit=cri-docker
      service_ensure "$cri_unit" "install cri-dockerd" || { emit runtime failed "$SERVICE_DETAIL"; return 1; }
      SERVICE_STATE=$(worse_state "$docker_state" "$SERVICE_STATE") SERVICE_DETAIL="$docker_detail; $SERVICE_DETAIL"
      ;;
    *) emit runtime failed "unknown runtime $runtime"; return 1 ;;
  esac
  if [ "$runtime" = containerd ]; then
    cri_unit=containerd
    service_ensure containerd "$hint" || { emit runtime failed "$SERVICE_DETAIL"; return 1; }
  fi
  state=$SERVICE_STATE detail=$SERVICE_DETAIL

  if ! have crictl; then
    emit runtime failed "$detail; but crictl is not installed, so kpki cannot ask $runtime on its CRI socket: install cri-tools (kubeadm needs crictl too)"; return 1
  fi
  # A running runtime is asked even in check mode (crictl info changes nothing).
  if [ "$(systemctl is-active "$cri_unit" 2>/dev/null)" != active ]; then
    detail="$detail; then it must answer crictl info on $socket"
  elif cri_answers "$socket"; then
    detail="$detail; answers on $socket ($CRI_DETAIL)"
  elif [ "$MODE" = check ] && [ -n "$CONTAINERD_PENDING" ]; then
    state=would-change detail="$detail; it does not answer on $socket yet ($CRI_DETAIL): its new configuration needs a restart"
  else
    emit runtime failed "$runtime does not answer on its CRI socket $socket: $CRI_DETAIL"; return 1
  fi

  crictl_config "$socket"
  case "$CRICTL_STATE" in
    ok) detail="$detail; $CRICTL_CONFIG names it" ;;
    would-change) detail="$detail; $CRICTL_CONFIG would name it" ;;
    changed) detail="$detail; $CRICTL_CONFIG written" ;;
    failed) emit runtime failed "$detail; but $CRICTL_CONFIG could not be written"; return 1 ;;
  esac
  emit runtime "$(worse_state "$state" "$CRICTL_STATE")" "$detail"
  fact cri-socket "$socket"

  # kubeadm refuses a host with several CRI sockets unless --cri-socket picks
  # one, and finds none but its own defaults (/var/run is /run).
  found= known=
  for candidate in $KUBEADM_CRI_SOCKETS; do
    [ -S "$candidate" ] && found="$found${found:+, }unix://$candidate"
    [ "unix://$candidate" = "$socket" ] || [ "unix:///run/${candidate#/var/run/}" = "$socket" ] && known=yes
  done
  if [ -z "$known" ]; then
    emit runtime warn "$runtime listens on $socket, where kubeadm does not look by itself: kubeadm init/join needs --cri-socket $socket (or nodeRegistration.criSocket in its configuration)"
  else
    case "$found" in
      *,*) emit runtime warn "several CRI sockets on this host ($found): kubeadm init/join needs --cri-socket $socket (or nodeRegistration.criSocket in its configuration)" ;;
    esac
  fi
  return 0
}
