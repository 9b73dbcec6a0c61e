# hostname (read-only): kubelet registers the node under this name.
step_hostname() {
  name=$(hostname 2>/dev/null)
  if printf '%s' "$name" | grep -Eq '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$'; then emit hostname ok "$name"
  else emit hostname failed "\"$name\" is not a valid lower-case DNS name: kubelet registers the node under it"; fi
}
