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
SYSCTL_FILE=/etc/sysctl.d/99-kpki-kubernetes.conf
MODULES_FILE=/etc/modules-load.d/kpki-kubernetes.conf
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C PATH

emit() { printf 'KPKI\t%s\t%s\t%s\n' "$1" "$2" "$(printf '%s' "$3" | tr '\t\n' '  ')"; }
fact() { printf 'KPKIFACT\t%s\t%s\n' "$1" "$(printf '%s' "$2" | tr '\t\n' '  ')"; }
have() { command -v "$1" >/dev/null 2>&1; }

# A systemd service enabled and running; shared by the runtime and kubelet steps.
unit_installed() { systemctl cat "$1.service" >/dev/null 2>&1; }
service_step() { # step unit install-hint restarting-is-fine
  step=$1 unit=$2 hint=$3
  if ! have systemctl; then emit "$step" failed "no systemctl here: kpki needs systemd to run $unit"; return 1; fi
  if ! unit_installed "$unit"; then emit "$step" failed "$unit is not installed: $hint"; return 1; fi
  enabled=$(systemctl is-enabled "$unit" 2>/dev/null); active=$(systemctl is-active "$unit" 2>/dev/null)
  if [ "$enabled" = enabled ] && { [ "$active" = active ] || { [ -n "$4" ] && [ "$active" = activating ]; }; }; then
    emit "$step" ok "$unit enabled and $active${4:+${active#active}}"; return 0
  fi
  if [ "$MODE" = check ]; then emit "$step" would-change "$unit is ${enabled:-not enabled} and ${active:-inactive}"; return 0; fi
  [ "$enabled" = enabled ] || systemctl enable "$unit" >/dev/null 2>&1 || { emit "$step" failed "systemctl enable $unit failed"; return 1; }
  [ "$active" = active ] || systemctl start "$unit" >/dev/null 2>&1 || { emit "$step" failed "systemctl start $unit failed: see journalctl -u $unit"; return 1; }
  active=$(systemctl is-active "$unit" 2>/dev/null)
  if [ "$active" = active ]; then emit "$step" changed "$unit enabled and started"; return 0; fi
  if [ -n "$4" ]; then emit "$step" changed "$unit enabled and started; it restarts until kubeadm init/join gives it a config (expected)"; return 0; fi
  emit "$step" failed "$unit did not start ($active): see journalctl -u $unit"
  return 1
}
