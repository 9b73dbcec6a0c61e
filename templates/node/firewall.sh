# firewall (RHEL family): a running firewalld opens the role's ports.
step_firewall() {
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
