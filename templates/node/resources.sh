# resources (read-only): CPUs and memory; a control plane needs kubeadm's NumCPU and Mem.
step_resources() {
  cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null || echo 0)
  mem=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo 2>/dev/null)
  fact cpus "$cpus"; fact memory_mb "$mem"
  if [ "$ROLE" = control-plane ]; then
    if [ "$cpus" -lt 2 ] 2>/dev/null; then emit resources failed "$cpus CPU: a control plane needs at least 2 (kubeadm NumCPU)"; return 0; fi
    if [ "${mem:-0}" -lt 1700 ]; then emit resources failed "${mem} MB of memory: a control plane needs at least 1700 MB (kubeadm Mem)"; return 0; fi
  fi
  emit resources ok "$cpus CPUs, $mem MB"
}
