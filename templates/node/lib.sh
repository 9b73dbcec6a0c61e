# kpki node {{mode}}: one script per host, run as root through sh -s, made of
# this file, one file per step (templates/node/STEP.sh) and a driver that
# src/bootstrap/node/steps.ts writes from its STEPS table. Each step checks,
# changes only what differs (in apply mode), checks again, and reports one
# line: KPKI<TAB>step<TAB>state<TAB>detail, where state is ok, changed,
# would-change, failed, warn or info.
MODE={{mode}}
ROLE={{role}}
RUNTIME={{runtime}}
OS_FAMILY_OVERRIDE={{os_family}}
FIREWALL={{firewall}}
# The target: a minor (1.33), a patch when one was asked for (1.33.2), and
# the sandbox image kubeadm expects for it.
K8S_MINOR={{k8s_minor}}
K8S_PATCH={{k8s_patch}}
PAUSE_IMAGE={{pause_image}}
# yes when no version was asked for (kpki took the newest minor it knows).
K8S_DEFAULTED={{k8s_defaulted}}
SYSCTL_FILE=/etc/sysctl.d/99-kpki-kubernetes.conf
MODULES_FILE=/etc/modules-load.d/kpki-kubernetes.conf
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C PATH

# A report line holds no tab or newline: a text with one goes through tr; the rest
# (nearly all) is printed as it is, since a process start costs more than the step's check.
TAB=$(printf '\t')
one_line() {
  case $1 in
    *"$TAB"*|*'
'*) ONE_LINE=$(printf '%s' "$1" | tr '\t\n' '  ') ;;
    *) ONE_LINE=$1 ;;
  esac
}
emit() { one_line "$3"; printf 'KPKI\t%s\t%s\t%s\n' "$1" "$2" "$ONE_LINE"; }
fact() { one_line "$2"; printf 'KPKIFACT\t%s\t%s\n' "$1" "$ONE_LINE"; }
have() { command -v "$1" >/dev/null 2>&1; }

# Whether systemd knows the unit. A yes is remembered (no step uninstalls, and each
# answer is a systemctl call); a no is asked again, as the packages step may install it.
UNITS_INSTALLED=
unit_installed() {
  case $UNITS_INSTALLED in *" $1 "*) return 0 ;; esac
  systemctl cat "$1.service" >/dev/null 2>&1 || systemctl cat "$1" >/dev/null 2>&1 || return 1
  UNITS_INSTALLED="$UNITS_INSTALLED $1 "
}

# CHOSEN_RUNTIME: the runtime this node uses: --runtime, or (auto) containerd when
# installed, else docker; "none" when neither. (A variable: in $(...) unit_installed would forget.)
chosen_runtime() {
  case "$RUNTIME" in
    auto) if unit_installed containerd; then CHOSEN_RUNTIME=containerd; elif unit_installed docker; then CHOSEN_RUNTIME=docker; else CHOSEN_RUNTIME=none; fi ;;
    *) CHOSEN_RUNTIME=$RUNTIME ;;
  esac
}

# service_ensure UNIT HINT: the unit enabled and active (started in apply
# mode). Reports nothing itself: sets SERVICE_STATE (ok, changed,
# would-change, failed) and SERVICE_DETAIL for the step's one line.
service_ensure() {
  unit=$1
  SERVICE_STATE=failed
  if ! have systemctl; then SERVICE_DETAIL="no systemctl here: kpki needs systemd to run $unit"; return 1; fi
  if ! unit_installed "$unit"; then SERVICE_DETAIL="$unit is not installed: $2"; return 1; fi
  enabled=$(systemctl is-enabled "$unit" 2>/dev/null); active=$(systemctl is-active "$unit" 2>/dev/null)
  if [ "$enabled" = enabled ] && [ "$active" = active ]; then SERVICE_STATE=ok SERVICE_DETAIL="$unit enabled and active"; return 0; fi
  if [ "$MODE" = check ]; then SERVICE_STATE=would-change SERVICE_DETAIL="$unit is ${enabled:-not enabled} and ${active:-inactive}"; return 0; fi
  if [ "$enabled" != enabled ] && ! systemctl enable "$unit" >/dev/null 2>&1; then SERVICE_DETAIL="systemctl enable $unit failed"; return 1; fi
  if [ "$active" != active ] && ! systemctl start "$unit" >/dev/null 2>&1; then SERVICE_DETAIL="systemctl start $unit failed: see journalctl -u $unit"; return 1; fi
  active=$(systemctl is-active "$unit" 2>/dev/null)
  if [ "$active" != active ]; then SERVICE_DETAIL="$unit did not start ($active): see journalctl -u $unit"; return 1; fi
  SERVICE_STATE=changed SERVICE_DETAIL="$unit enabled and started"
}

# The worse of two step states: failed, would-change, changed, ok.
worse_state() {
  for state in failed would-change changed; do
    if [ "$1" = "$state" ] || [ "$2" = "$state" ]; then echo "$state"; return; fi
  done
  echo ok
}
