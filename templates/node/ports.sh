# ports (read-only): kubeadm's ports for the role are free.
step_ports() {
  if [ "$ROLE" = control-plane ]; then ports="6443 10259 10257 10250 2379 2380"; else ports="10250"; fi
  listening=$(awk 'NR > 1 && $4 == "0A" { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u | while read -r hex; do printf '%d ' "0x$hex"; done)
  busy=
  for p in $ports; do case " $listening " in *" $p "*) busy="$busy $p" ;; esac; done
  if [ -n "$busy" ]; then emit ports failed "already in use:$busy (kubeadm needs them free)"; else emit ports ok "free: $ports"; fi
}
