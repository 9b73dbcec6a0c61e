#!/bin/bash
# A test host's "boot", run as PID 1 after the mounts (init.pl) and before
# sshd. Rebuilds the runtime state from the persisted configuration, as a
# real boot would, so a simulated reboot shows what survives one:
#   /etc/fstab swap lines (not commented, not noauto, unit not masked) and
#   zram-generator's /dev/zram0          -> active swaps (/proc/swaps)
#   modules-load.d (+ Debian's /etc/modules) -> loaded modules (/proc/modules)
#   enabled units                         -> active (failed if a failure is injected)
#   /etc/selinux/config                   -> the SELinux mode
#   firewalld's permanent ports           -> its runtime ports
#   sysctl.d + /etc/sysctl.conf           -> `sysctl --system` (the real one)
# then execs sshd.
# shellcheck source=lib.sh
. /usr/lib/kpki-testhost/lib.sh

# Swap.
SW_NAME=() SW_TYPE=() SW_SIZE=() SW_USED=() SW_PRIO=()
fstab_swaps
for i in "${!FSTAB_SPEC[@]}"; do
  [[ ,${FSTAB_OPTS[i]}, == *,noauto,* ]] && continue
  path_escape "${FSTAB_SPEC[i]}"
  unit_masked "$REPLY.swap" && continue
  swap_on "${FSTAB_SPEC[i]}"
done
if zram_configured && ! unit_masked dev-zram0.swap; then swap_on /dev/zram0 100; fi
swaps_save

# Kernel modules.
: >"$RT/modules"
declare -A seen=()
for file in /etc/modules-load.d/*.conf /run/modules-load.d/*.conf /usr/lib/modules-load.d/*.conf /etc/modules; do
  [[ -r $file ]] || continue
  base=${file##*/}
  [[ -n ${seen[$base]:-} ]] && continue
  seen[$base]=1
  while read -r module _; do
    [[ -z $module || $module == \#* || $module == \;* ]] && continue
    module_load "${module//-/_}"
  done <"$file"
done

# Units.
for file in /usr/lib/systemd/system/* /etc/systemd/system/*; do
  [[ -f $file ]] || continue
  unit=${file##*/}
  unit_enabled "$unit" || continue
  unit_masked "$unit" && continue
  unit_start "$unit" 2>>"$RT/boot.log" || true
done

# SELinux.
if [[ -r /etc/selinux/config ]]; then
  mode=disabled
  while IFS='=' read -r key value; do
    [[ $key == SELINUX ]] && mode=$value
  done </etc/selinux/config
  case $mode in
    enforcing) printf 'Enforcing\n' >"$RT/selinux" ;;
    permissive) printf 'Permissive\n' >"$RT/selinux" ;;
    *) printf 'Disabled\n' >"$RT/selinux" ;;
  esac
fi

# firewalld.
unit_state firewalld.service
if [[ $REPLY == active ]]; then
  firewalld_permanent_ports public
  printf '%s\n' "$REPLY" >"$RT/firewalld/public"
fi

# Kernel parameters: the distribution's own sysctl, as systemd-sysctl would at boot.
/usr/sbin/sysctl --system >>"$RT/boot.log" 2>&1 || printf 'sysctl --system exited %s\n' "$?" >>"$RT/boot.log"

exec /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config
