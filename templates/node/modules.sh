# modules: overlay and br_netfilter loaded now and at boot.
# A module built into the kernel is in neither lsmod nor, without parameters,
# /sys/module (and a container may not see /sys/module at all); what it adds
# to the kernel shows it is there, loaded or built in.
module_in_kernel() {
  case "$1" in
    overlay) grep -qw overlay /proc/filesystems 2>/dev/null ;;
    br_netfilter) [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] ;;
    *) return 1 ;;
  esac
}
module_loaded() { [ -d "/sys/module/$1" ] || module_in_kernel "$1" || { have lsmod && lsmod 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }; }
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
