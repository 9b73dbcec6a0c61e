# kubelet: enabled and started; it restarts until kubeadm init/join writes its config.
step_kubelet() {
  if [ "$FAMILY" = rhel ]; then hint="add the pkgs.k8s.io repository, then yum install -y kubelet kubeadm kubectl --disableexcludes=kubernetes"
  else hint="add the pkgs.k8s.io repository, then apt-get install -y kubelet kubeadm kubectl"; fi
  service_step kubelet kubelet "$hint" restarting
}
