# runtime: the container runtime (containerd or docker) enabled and started.
step_runtime() {
  runtime=$RUNTIME
  if [ "$runtime" = auto ]; then
    if unit_installed containerd; then runtime=containerd; elif unit_installed docker; then runtime=docker; else
      emit runtime failed "no container runtime installed: install containerd (or docker), then run kpki node prep again"; return 1
    fi
  fi
  if [ "$FAMILY" = rhel ]; then hint="yum install -y containerd.io (Docker's repository) or docker-ce"; else hint="apt-get install -y containerd (or docker.io)"; fi
  service_step runtime "$runtime" "$hint"
}
