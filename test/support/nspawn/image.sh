# Run once inside the freshly debootstrapped Debian 12 (chroot), when the
# cached rootfs is built: what every booted test host shares. Per-boot files
# (host name, machine-id, address, SSH keys) go into each boot's upper layer.
set -eu
# Each boot gets its own ed25519 host key (known_hosts is built from it, no scanning).
rm -f /etc/ssh/ssh_host_*
cat > /etc/ssh/sshd_config.d/kpki-test.conf <<'CONF'
# kpki test host: key-only root login
PermitRootLogin prohibit-password
AuthenticationMethods publickey
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
HostKey /etc/ssh/ssh_host_ed25519_key
CONF
# The address comes from /etc/systemd/network/10-host0.network, written per boot.
systemctl enable systemd-networkd.service >/dev/null 2>&1
# Nothing may leave the test bridge: no resolver, no package sources (a test adds its own).
printf 'nameserver 127.0.0.1\n' > /etc/resolv.conf
: > /etc/apt/sources.list
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
# apt's timers would take the dpkg lock at random moments during a test.
systemctl disable apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1
# Swap for the swap step to switch off for good: an fstab line and an
# administrator's swap unit, enabled. systemd never starts swap units inside a
# container and nspawn's seccomp filter refuses swapon/swapoff, so no swap is
# ever activated on this machine; /swapfile deliberately does not exist.
printf '/swapfile none swap sw 0 0\n' >> /etc/fstab
cat > /etc/systemd/system/swapfile.swap <<'UNIT'
[Unit]
Description=Swap file

[Swap]
What=/swapfile

[Install]
WantedBy=swap.target
UNIT
systemctl enable swapfile.swap >/dev/null 2>&1
