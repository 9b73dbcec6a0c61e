# swap: off now and at boot (kubelet refuses to start with swap).
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
  before=$SW_DESC stamp=$(date +%Y%m%d%H%M%S) moved=
  swapoff -a 2>/dev/null
  for dev in $(active_swaps); do swapoff "$dev" 2>/dev/null; done
  if [ -n "$SW_FSTAB" ]; then
    backup=/etc/fstab.kpki-$stamp
    cp -p /etc/fstab "$backup" || { emit swap failed "cannot back up /etc/fstab"; return 1; }
    tmp=/etc/.fstab.kpki.$$
    { awk '$0 !~ /^[[:space:]]*#/ && $3 == "swap" { print "# kpki: swap off for kubelet: " $0; next } { print }' "$backup" > "$tmp" \
      && chmod --reference="$backup" "$tmp" && mv "$tmp" /etc/fstab; } || { rm -f "$tmp"; emit swap failed "cannot rewrite /etc/fstab"; return 1; }
  fi
  for unit in $SW_UNITS; do
    # A unit file of the administrator's in /etc/systemd/system is where the mask
    # link must go ("File ... already exists"): disable it and keep it beside, under
    # a name systemd does not read, then mask.
    # (show --value needs systemd 230; CentOS 7 has 219.)
    file=$(systemctl show -p FragmentPath "$unit" 2>/dev/null); file=${file#FragmentPath=}
    case "$file" in
      /etc/systemd/system/*)
        if [ -e "$file" ] && [ "$(readlink "$file")" != /dev/null ]; then
          systemctl disable "$unit" >/dev/null 2>&1
          mv "$file" "$file.kpki-$stamp" || { emit swap failed "cannot move $file aside to mask $unit"; return 1; }
          moved="$moved $file.kpki-$stamp"
        fi ;;
    esac
    systemctl mask "$unit" >/dev/null 2>&1
  done
  if [ -n "$SW_ZRAM" ]; then
    # An empty config overrides the distribution's default and makes no zram swap.
    printf '# kpki: no zram swap (kubelet refuses to start with swap)\n' > /etc/systemd/zram-generator.conf
  fi
  if swap_state; then emit swap changed "swap off now and at boot (was ${before% ; })${backup:+; /etc/fstab backed up to $backup}${moved:+; unit files kept as$moved}"; return 0; fi
  emit swap failed "swap is still on after swapoff: ${SW_DESC% ; }"
  return 1
}
