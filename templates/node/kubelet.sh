# kubelet: installed, enabled, and not started: until kubeadm init/join
# writes /var/lib/kubelet/config.yaml it can only crash-loop, and kubeadm
# starts it itself. Its version is judged in one place, the preflight's
# KubeletVersion (kubeadm's check), so --ignore-preflight-errors reaches it;
# this step only names what is installed.
step_kubelet() {
  if [ "$FAMILY" = rhel ]; then hint="add the pkgs.k8s.io repository for $K8S_MINOR, then yum install -y kubelet kubeadm kubectl --disableexcludes=kubernetes"
  else hint="add the pkgs.k8s.io repository for $K8S_MINOR, then apt-get install -y kubelet kubeadm kubectl"; fi
  if ! have systemctl; then emit kubelet failed "no systemctl here: kpki needs systemd to run kubelet"; return 1; fi
  if ! unit_installed kubelet && [ "$MODE" = check ] && [ "$PKG_PENDING" = yes ]; then emit kubelet would-change "kubelet is not installed yet: the packages step installs it"; return 0; fi
  if ! unit_installed kubelet; then emit kubelet failed "kubelet is not installed: $hint"; return 1; fi
  state=ok
  kubelet_version=$(kubelet --version 2>/dev/null | awk '{ print $NF }')
  kubeadm_version=$(kubeadm version -o short 2>/dev/null)
  versions="kubelet ${kubelet_version:-(no version printed)}${kubeadm_version:+, kubeadm $kubeadm_version}"

  # Once kubeadm init/join has configured it, kubelet must run (a joined node's kubelet stopped).
  if [ -e /var/lib/kubelet/config.yaml ]; then
    if service_ensure kubelet "$hint"; then
      emit kubelet "$SERVICE_STATE" "$versions; kubeadm has configured it (/var/lib/kubelet/config.yaml): $SERVICE_DETAIL"
    else
      emit kubelet failed "$SERVICE_DETAIL"; return 1
    fi
    return 0
  fi
  enabled=$(systemctl is-enabled kubelet 2>/dev/null)
  if [ "$enabled" != enabled ]; then
    if [ "$MODE" = check ]; then
      emit kubelet would-change "$versions; kubelet is ${enabled:-not enabled}: kpki enables it and leaves it for kubeadm init/join to start"
      return 0
    fi
    if ! systemctl enable kubelet >/dev/null 2>&1; then emit kubelet failed "systemctl enable kubelet failed"; return 1; fi
    state=changed
  fi
  case "$(systemctl is-active kubelet 2>/dev/null)" in
    active) running=" and running" ;;
    activating) running=" and restarting until kubeadm init/join gives it a config (expected)" ;;
    *) running=", not started: kubeadm init/join starts it once it has written its config" ;;
  esac
  emit kubelet "$state" "$versions; enabled$running"
  return 0
}
