# kpki node {{mode}}: one script per host, run as root through sh -s.
# Each step checks, changes only what differs (in apply mode), checks again,
# and reports one line: KPKI<TAB>step<TAB>state<TAB>detail, where state is
# ok, changed, would-change, failed, warn or info.
MODE={{mode}}
ROLE={{role}}
RUNTIME={{runtime}}
OS_FAMILY_OVERRIDE={{os_family}}
FIREWALL={{firewall}}
SYSCTL_FILE=/etc/sysctl.d/99-kpki-kubernetes.conf
MODULES_FILE=/etc/modules-load.d/kpki-kubernetes.conf
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C PATH

emit() { printf 'KPKI\t%s\t%s\t%s\n' "$1" "$2" "$(printf '%s' "$3" | tr '\t\n' '  ')"; }
fact() { printf 'KPKIFACT\t%s\t%s\n' "$1" "$(printf '%s' "$2" | tr '\t\n' '  ')"; }
have() { command -v "$1" >/dev/null 2>&1; }

# --- os -------------------------------------------------------------------
step_os() {
  if [ ! -r /etc/os-release ]; then emit os failed "no /etc/os-release: cannot tell the distribution"; return 1; fi
  ID= VERSION_ID= ID_LIKE= PRETTY_NAME=
  . /etc/os-release
  major=${VERSION_ID%%.*}
  family=
  case "$ID" in
    centos) case "$major" in 7|8|9) family=rhel ;; esac ;;
    rhel|rocky|almalinux) case "$major" in 8|9) family=rhel ;; esac ;;
    fedora) family=rhel ;;
    debian) case "$major" in 11|12) family=debian ;; esac ;;
    ubuntu) case "$VERSION_ID" in 20.04|22.04|24.04) family=debian ;; esac ;;
  esac
  fact os "$PRETTY_NAME"
  if [ -z "$family" ]; then
    if [ -n "$OS_FAMILY_OVERRIDE" ]; then
      family=$OS_FAMILY_OVERRIDE
      emit os warn "$PRETTY_NAME is not a distribution kpki knows; treated as $family (--os-family)"
    else
      emit os failed "$PRETTY_NAME ($ID $VERSION_ID) is not supported (CentOS 7, CentOS Stream 8/9, RHEL/Rocky/Alma 8/9, Fedora, Debian 11/12, Ubuntu 20.04/22.04/24.04): give --os-family rhel|debian to go on anyway"
      return 1
    fi
  else
    emit os ok "$PRETTY_NAME ($family family)"
  fi
  FAMILY=$family
  fact family "$FAMILY"
}

# --- swap -----------------------------------------------------------------
active_swaps() { awk 'NR > 1 { printf "%s ", $1 }' /proc/swaps 2>/dev/null; }
fstab_swap_lines() { awk '$0 !~ /^[[:space:]]*#/ && $3 == "swap" { printf "%s ", NR }' /etc/fstab 2>/dev/null; }
swap_units() {
  have systemctl || return 0
  systemctl list-unit-files --type=swap --no-legend 2>/dev/null | awk '$2 != "masked" && $2 != "" { printf "%s ", $1 }'
}
zram_configured() {
  # /etc/systemd/zram-generator.conf, when there, replaces the distribution's /usr/lib one.
  f=/usr/lib/systemd/zram-generator.conf
  [ -f /etc/systemd/zram-generator.conf ] && f=/etc/systemd/zram-generator.conf
  grep -q '^\[zram' "$f" 2>/dev/null && { printf '%s' "$f"; return 0; }
  return 1
}
swap_state() {
  SW_ACTIVE=$(active_swaps); SW_FSTAB=$(fstab_swap_lines); SW_UNITS=$(swap_units); SW_ZRAM=$(zram_configured)
  SW_DESC=
  [ -n "$SW_ACTIVE" ] && SW_DESC="active: $SW_ACTIVE; "
  [ -n "$SW_FSTAB" ] && SW_DESC="${SW_DESC}fstab lines: $SW_FSTAB; "
  [ -n "$SW_UNITS" ] && SW_DESC="${SW_DESC}swap units: $SW_UNITS; "
  [ -n "$SW_ZRAM" ] && SW_DESC="${SW_DESC}zram-generator: $SW_ZRAM; "
  [ -z "$SW_DESC" ]
}
step_swap() {
  if swap_state; then emit swap ok "no swap now, none at boot"; return 0; fi
  if [ "$MODE" = check ]; then emit swap would-change "swap on (${SW_DESC% ; }): kubelet refuses to start with swap"; return 0; fi
  before=$SW_DESC
  swapoff -a 2>/dev/null
  for dev in $(active_swaps); do swapoff "$dev" 2>/dev/null; done
  if [ -n "$SW_FSTAB" ]; then
    backup=/etc/fstab.kpki-$(date +%Y%m%d%H%M%S)
    cp -p /etc/fstab "$backup" || { emit swap failed "cannot back up /etc/fstab"; return 1; }
    tmp=/etc/.fstab.kpki.$$
    { awk '$0 !~ /^[[:space:]]*#/ && $3 == "swap" { print "# kpki: swap off for kubelet: " $0; next } { print }' "$backup" > "$tmp" \
      && chmod --reference="$backup" "$tmp" && mv "$tmp" /etc/fstab; } || { rm -f "$tmp"; emit swap failed "cannot rewrite /etc/fstab"; return 1; }
  fi
  for unit in $SW_UNITS; do systemctl mask "$unit" >/dev/null 2>&1; done
  if [ -n "$SW_ZRAM" ]; then
    # An empty config overrides the distribution's default and makes no zram swap.
    printf '# kpki: no zram swap (kubelet refuses to start with swap)\n' > /etc/systemd/zram-generator.conf
  fi
  if swap_state; then emit swap changed "swap off now and at boot (was ${before% ; })${backup:+; /etc/fstab backed up to $backup}"; return 0; fi
  emit swap failed "swap is still on after swapoff: ${SW_DESC% ; }"
  return 1
}

# --- kernel modules --------------------------------------------------------
module_loaded() { [ -d "/sys/module/$1" ] || { have lsmod && lsmod 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }; }
step_modules() {
  missing=; persisted=yes
  for m in overlay br_netfilter; do module_loaded "$m" || missing="$missing $m"; done
  if ! cmp -s "$MODULES_FILE" - <<'KPKI_MODULES'
{{modules_file}}
KPKI_MODULES
  then persisted=no; fi
  if [ -z "$missing" ] && [ $persisted = yes ]; then emit modules ok "overlay and br_netfilter loaded and listed in $MODULES_FILE"; return 0; fi
  why=${missing:+not loaded:$missing; }
  [ $persisted = no ] && why="${why}$MODULES_FILE missing or different (not loaded at boot)"
  if [ "$MODE" = check ]; then emit modules would-change "$why"; return 0; fi
  for m in $missing; do modprobe "$m" 2>/dev/null || { emit modules failed "modprobe $m failed: the kernel lacks it"; return 1; }; done
  mkdir -p /etc/modules-load.d
  cat > "$MODULES_FILE" <<'KPKI_MODULES'
{{modules_file}}
KPKI_MODULES
  emit modules changed "${missing:+loaded$missing; }$MODULES_FILE written"
}

# --- sysctl ----------------------------------------------------------------
sysctl_value() { sysctl -n "$1" 2>/dev/null; }
step_sysctl() {
  wrong=
  while IFS='= ' read -r key value; do
    case "$key" in ''|'#'*) continue ;; esac
    [ "$(sysctl_value "$key")" = "$value" ] || wrong="$wrong $key"
  done <<'KPKI_SYSCTL'
{{sysctl_file}}
KPKI_SYSCTL
  file_ok=yes
  cmp -s "$SYSCTL_FILE" - <<'KPKI_SYSCTL' || file_ok=no
{{sysctl_file}}
KPKI_SYSCTL
  if [ -z "$wrong" ] && [ $file_ok = yes ]; then emit sysctl ok "net.ipv4.ip_forward=1 and bridge settings, now and at boot ($SYSCTL_FILE)"; return 0; fi
  if [ "$MODE" = check ]; then
    emit sysctl would-change "${wrong:+not set now:$wrong; }$( [ $file_ok = no ] && printf '%s' "$SYSCTL_FILE missing or different (lost at reboot)")"
    return 0
  fi
  mkdir -p /etc/sysctl.d
  cat > "$SYSCTL_FILE" <<'KPKI_SYSCTL'
{{sysctl_file}}
KPKI_SYSCTL
  sysctl -p "$SYSCTL_FILE" >/dev/null 2>&1
  still=
  while IFS='= ' read -r key value; do
    case "$key" in ''|'#'*) continue ;; esac
    [ "$(sysctl_value "$key")" = "$value" ] || still="$still $key"
  done < "$SYSCTL_FILE"
  if [ -n "$still" ]; then emit sysctl failed "set in $SYSCTL_FILE but not in effect:$still (is br_netfilter loaded?)"; return 1; fi
  emit sysctl changed "${wrong:+set$wrong; }$SYSCTL_FILE written"
}

# --- SELinux (RHEL family) -------------------------------------------------
step_selinux() {
  [ "$FAMILY" = rhel ] || return 0
  if ! have getenforce && [ ! -f /etc/selinux/config ]; then emit selinux ok "SELinux is not installed"; return 0; fi
  now=$(getenforce 2>/dev/null || echo Disabled)
  boot=$(sed -n 's/^SELINUX=//p' /etc/selinux/config 2>/dev/null)
  if [ "$now" != Enforcing ] && [ "$boot" != enforcing ]; then emit selinux ok "SELinux $now now, ${boot:-unset} at boot"; return 0; fi
  if [ "$MODE" = check ]; then emit selinux would-change "SELinux $now now, $boot at boot: kubeadm's docs set it permissive so containers can reach the host's files"; return 0; fi
  [ "$now" = Enforcing ] && setenforce 0
  [ "$boot" = enforcing ] && sed -i 's/^SELINUX=enforcing$/SELINUX=permissive/' /etc/selinux/config
  now=$(getenforce 2>/dev/null); boot=$(sed -n 's/^SELINUX=//p' /etc/selinux/config)
  if [ "$now" = Enforcing ] || [ "$boot" = enforcing ]; then emit selinux failed "SELinux still $now / $boot"; return 1; fi
  emit selinux changed "SELinux permissive now and at boot"
}

# --- firewalld (RHEL family) -----------------------------------------------
step_firewall() {
  [ "$FAMILY" = rhel ] || return 0
  if ! have firewall-cmd || ! firewall-cmd --state >/dev/null 2>&1; then emit firewall ok "firewalld is not running"; return 0; fi
  if [ "$ROLE" = control-plane ]; then ports="6443/tcp 2379-2380/tcp 10250/tcp 10257/tcp 10259/tcp"; else ports="10250/tcp 30000-32767/tcp"; fi
  open=$(firewall-cmd --permanent --list-ports 2>/dev/null)
  missing=
  for p in $ports; do case " $open " in *" $p "*) ;; *) missing="$missing $p" ;; esac; done
  if [ -z "$missing" ]; then emit firewall ok "firewalld is running with the $ROLE ports open ($ports)"; return 0; fi
  if [ "$FIREWALL" = no ]; then emit firewall warn "firewalld is running and these $ROLE ports are closed:$missing (left alone: --no-firewall)"; return 0; fi
  if [ "$MODE" = check ]; then emit firewall would-change "firewalld is running; $ROLE ports to open:$missing"; return 0; fi
  for p in $missing; do firewall-cmd --permanent --add-port="$p" >/dev/null 2>&1 || { emit firewall failed "firewall-cmd --add-port=$p failed"; return 1; }; done
  firewall-cmd --reload >/dev/null 2>&1
  emit firewall changed "opened$missing (permanent, reloaded)"
}

# --- services ----------------------------------------------------------------
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
step_runtime() {
  runtime=$RUNTIME
  if [ "$runtime" = auto ]; then
    if unit_installed containerd; then runtime=containerd; elif unit_installed docker; then runtime=docker; else
      emit runtime failed "no container runtime installed: install containerd (or docker), then run kpki node prep again"; return 1
    fi
  fi
  if [ "$FAMILY" = rhel ]; then hint="yum install -y containerd.io (Docker's repository) or docker-ce"; else hint="apt-get install -y containerd (or docker.io)"; fi
  service_step runtime "$runtime" "$hint"
}
step_kubelet() {
  if [ "$FAMILY" = rhel ]; then hint="add the pkgs.k8s.io repository, then yum install -y kubelet kubeadm kubectl --disableexcludes=kubernetes"
  else hint="add the pkgs.k8s.io repository, then apt-get install -y kubelet kubeadm kubectl"; fi
  service_step kubelet kubelet "$hint" restarting
}

# --- preflight facts (read-only) --------------------------------------------
step_preflight() {
  cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null || echo 0)
  mem=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo 2>/dev/null)
  fact cpus "$cpus"; fact memory_mb "$mem"
  if [ "$ROLE" = control-plane ]; then
    if [ "$cpus" -lt 2 ] 2>/dev/null; then emit resources failed "$cpus CPU: a control plane needs at least 2 (kubeadm NumCPU)"
    elif [ "${mem:-0}" -lt 1700 ]; then emit resources failed "${mem} MB of memory: a control plane needs at least 1700 MB (kubeadm Mem)"
    else emit resources ok "$cpus CPUs, $mem MB"; fi
  else emit resources ok "$cpus CPUs, $mem MB"; fi
  name=$(hostname 2>/dev/null)
  if printf '%s' "$name" | grep -Eq '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$'; then emit hostname ok "$name"
  else emit hostname failed "\"$name\" is not a valid lower-case DNS name: kubelet registers the node under it"; fi
  if [ "$ROLE" = control-plane ]; then ports="6443 10259 10257 10250 2379 2380"; else ports="10250"; fi
  listening=$(awk 'NR > 1 && $4 == "0A" { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u | while read -r hex; do printf '%d ' "0x$hex"; done)
  busy=
  for p in $ports; do case " $listening " in *" $p "*) busy="$busy $p" ;; esac; done
  if [ -n "$busy" ]; then emit ports failed "already in use:$busy (kubeadm needs them free)"; else emit ports ok "free: $ports"; fi
}

step_os || exit 0
step_swap
step_modules
step_sysctl
step_selinux
step_firewall
step_runtime
step_kubelet
step_preflight
exit 0
