# kubelet: installed at the target version and at kubeadm's, enabled, and not
# started: until kubeadm init/join writes /var/lib/kubelet/config.yaml it can
# only crash-loop, and kubeadm starts it itself.
version_minor() { echo "$1" | awk -F. '{ print $1 "." $2 }'; }
# version_cmp A B: prints -1, 0 or 1 comparing MAJOR.MINOR[.PATCH] numerically.
version_cmp() { awk -v a="$1" -v b="$2" 'BEGIN { n = split(a, x, "."); split(b, y, "."); for (i = 1; i <= 3; i++) { if (x[i] + 0 < y[i] + 0) { print -1; exit } if (x[i] + 0 > y[i] + 0) { print 1; exit } } print 0 }'; }

step_kubelet() {
  if [ "$FAMILY" = rhel ]; then hint="add the pkgs.k8s.io repository for $K8S_MINOR, then yum install -y kubelet kubeadm kubectl --disableexcludes=kubernetes"
  else hint="add the pkgs.k8s.io repository for $K8S_MINOR, then apt-get install -y kubelet kubeadm kubectl"; fi
  if ! have systemctl; then emit kubelet failed "no systemctl here: kpki needs systemd to run kubelet"; return 1; fi
  if ! unit_installed kubelet && [ "$MODE" = check ] && [ "$PKG_PENDING" = yes ]; then emit kubelet would-change "kubelet is not installed yet: the packages step installs it"; return 0; fi
  if ! unit_installed kubelet; then emit kubelet failed "kubelet is not installed: $hint"; return 1; fi

  # Versions: kubelet against the target, and against kubeadm (kubeadm's
  # preflight refuses a kubelet newer than itself).
  kubelet_version=$(kubelet --version 2>/dev/null | awk '{ print $NF }'); kubelet_version=${kubelet_version#v}
  if [ -z "$kubelet_version" ]; then emit kubelet failed "kubelet --version printed no version: reinstall kubelet"; return 1; fi
  target=${K8S_PATCH:-$K8S_MINOR}
  state=ok notes= kubeadm_version=
  if [ -n "$K8S_PATCH" ]; then on_target=$([ "$kubelet_version" = "$K8S_PATCH" ] && echo yes)
  else on_target=$([ "$(version_minor "$kubelet_version")" = "$K8S_MINOR" ] && echo yes); fi
  if [ -z "$on_target" ]; then
    if [ "$K8S_DEFAULTED" = yes ]; then
      notes="kubelet is v$kubelet_version, not kpki's default target $K8S_MINOR: give --kubernetes-version $(version_minor "$kubelet_version") to prepare for what is installed"
    else
      emit kubelet failed "kubelet is v$kubelet_version, the target is $target: install kubelet, kubeadm and kubectl $target"; return 1
    fi
  fi
  if have kubeadm; then
    kubeadm_version=$(kubeadm version -o short 2>/dev/null); kubeadm_version=${kubeadm_version#v}
    if [ -z "$kubeadm_version" ]; then notes="${notes:+$notes; }kubeadm version -o short printed nothing"
    elif [ "$(version_cmp "$(version_minor "$kubelet_version")" "$(version_minor "$kubeadm_version")")" = 1 ]; then
      emit kubelet failed "kubelet v$kubelet_version is newer than kubeadm v$kubeadm_version: kubeadm's preflight refuses it (KubeletVersion); install both at $target"; return 1
    elif [ "$kubelet_version" != "$kubeadm_version" ]; then
      notes="${notes:+$notes; }kubelet v$kubelet_version and kubeadm v$kubeadm_version differ: install both at $target"
    fi
  else
    notes="${notes:+$notes; }kubeadm is not installed (kubeadm init/join needs it): $hint"
  fi
  versions="kubelet v$kubelet_version${kubeadm_version:+, kubeadm v$kubeadm_version}"

  # Once kubeadm init/join has configured it, kubelet must run (a joined node's kubelet stopped).
  if [ -e /var/lib/kubelet/config.yaml ]; then
    if service_ensure kubelet "$hint"; then
      emit kubelet "$SERVICE_STATE" "$versions; kubeadm has configured it (/var/lib/kubelet/config.yaml): $SERVICE_DETAIL"
    else
      emit kubelet failed "$SERVICE_DETAIL"; return 1
    fi
    [ -n "$notes" ] && emit kubelet warn "$notes"
    return 0
  fi
  enabled=$(systemctl is-enabled kubelet 2>/dev/null)
  if [ "$enabled" != enabled ]; then
    if [ "$MODE" = check ]; then
      emit kubelet would-change "$versions; kubelet is ${enabled:-not enabled}: kpki enables it and leaves it for kubeadm init/join to start"
      [ -n "$notes" ] && emit kubelet warn "$notes"
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
  [ -n "$notes" ] && emit kubelet warn "$notes"
  return 0
}
