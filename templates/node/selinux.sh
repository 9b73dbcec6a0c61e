# selinux (RHEL family): permissive now and at boot.
step_selinux() {
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
