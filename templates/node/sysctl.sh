# sysctl: forwarding and the bridge settings now and at boot.
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
