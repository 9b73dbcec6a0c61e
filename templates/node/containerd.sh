# containerd: /etc/containerd/config.toml as kubeadm needs it: the CRI plugin
# on, SystemdCgroup = true for runc (kubeadm gives the kubelet the systemd
# cgroup driver), the sandbox image kubeadm expects for the target. Judged on
# containerd's own effective configuration (`containerd config dump`), never
# by reading the file. A new file is containerd's dump of the current one
# (so the operator's settings stay), with the sections it lacks taken from
# `containerd config default` (a disabled CRI plugin has none) and those three
# values set; it is dumped and checked again before it replaces the old file,
# which is kept as a backup. containerd restarts only when the file changed.
CONTAINERD_CONFIG=/etc/containerd/config.toml
# Set here for the runtime step: the CRI socket containerd listens on, and
# whether a configuration change is still pending (check mode).
CTD_CRI_SOCKET=
CONTAINERD_PENDING=

# One awk program reads containerd's canonical TOML (its dump or defaults):
#   mode=check: prints one line: the gRPC socket's path, a space, and the
#               problems found, joined by "; " (none: nothing after the space);
#   mode=write: prints the first file with the fixes, then the sections of the
#               second file that the first lacks (fixed too), then any section
#               still missing.
# version 2 (containerd 1.x) and 3 (2.x) name the CRI sections differently.
CONTAINERD_AWK='
function norm(header) { gsub(/[][ \t]/, "", header); gsub(/\047/, "\"", header); return header }
function unquote(value) { sub(/^[ \t]*=[ \t]*/, "", value); sub(/[ \t]+(#.*)?$/, "", value); gsub(/^["\047]|["\047]$/, "", value); return value }
function is_cri(name) { return name == "cri" || name ~ /\.cri$/ || name ~ /^io\.containerd\.cri\.v1\./ }
function keyof(line) { k = line; sub(/^[ \t]*/, "", k); sub(/[ \t]*=.*/, "", k); gsub(/["\047]/, "", k); return k }
# KEY = [list] without the entries drop() refuses; DROPPED lists those.
function filter_list(k, line, what,   body, n, i, items, out, name) {
  body = line; sub(/^[^[]*\[/, "", body); sub(/\][^]]*$/, "", body)
  n = split(body, items, ","); out = ""; DROPPED = ""
  for (i = 1; i <= n; i++) {
    name = items[i]; gsub(/^[ \t"\047]+|[ \t"\047]+$/, "", name)
    if (name == "") continue
    if ((what == "cri" && is_cri(name)) || (what == "self" && name == self)) DROPPED = DROPPED (DROPPED == "" ? "" : ", ") name
    else out = out (out == "" ? "" : ", ") "\"" name "\""
  }
  return k " = [" out "]"
}
BEGIN {
  if (version == 3) {
    cri = "plugins.\"io.containerd.cri.v1.runtime\""
    sec[1] = "plugins.\"io.containerd.cri.v1.images\".pinned_images"; key[1] = "sandbox"
    sec[2] = cri ".containerd.runtimes.runc.options"; key[2] = "SystemdCgroup"
  } else {
    cri = "plugins.\"io.containerd.grpc.v1.cri\""
    sec[1] = cri; key[1] = "sandbox_image"
    sec[2] = cri ".containerd.runtimes.runc.options"; key[2] = "SystemdCgroup"
  }
  want[1] = "\"" image "\""; want[2] = "true"
  section = ""; address = "/run/containerd/containerd.sock"
}
# The end of a section (mode=write): a key it should hold and lacks is added.
function close_section(   i) {
  for (i = 1; i <= 2; i++) if (section == sec[i] && !done[i]) { print "  " key[i] " = " want[i]; done[i] = 1 }
}
FNR == 1 && NR != 1 { if (mode == "write") close_section(); section = ""; second = 1 }
/^[ \t]*\[/ {
  if (mode == "write") close_section()
  section = norm($0)
  if (!second) seen[section] = 1
  skipping = second && (section in seen)
  if (section == cri) has_cri = 1
  for (i = 1; i <= 2; i++) if (section == sec[i]) found[i] = 1
  if (mode == "write" && !skipping) print
  next
}
{
  if (second && (section == "" || skipping)) next
  k = keyof($0)
  line = $0
  if (section == "" && k == "disabled_plugins") {
    line = filter_list(k, $0, "cri")
    if (DROPPED != "") problems = problems "the CRI plugin is disabled (disabled_plugins: " DROPPED ")\n"
  }
  # containerd lists the file it dumped among the imports: a file importing itself.
  if (section == "" && k == "imports") line = filter_list(k, $0, "self")
  if (section == "grpc" && k == "address") address = unquote(substr($0, index($0, "=")))
  for (i = 1; i <= 2; i++) if (section == sec[i] && k == key[i]) {
    value = unquote(substr($0, index($0, "=")))
    value_of[i] = value
    match($0, /^[ \t]*/); line = substr($0, 1, RLENGTH) key[i] " = " want[i]; done[i] = 1
  }
  if (mode == "write") print line
}
END {
  if (mode == "write") {
    close_section()
    for (i = 1; i <= 2; i++) if (!found[i]) { print ""; print "[" sec[i] "]"; print "  " key[i] " = " want[i] }
    exit
  }
  if (!has_cri && problems == "") problems = "the CRI plugin is not loaded (no " cri " section)\n"
  # Without the CRI plugin its settings are missing too: only wrong values are worth naming then.
  cri_off = problems != ""
  if (cri_off && value_of[2] == "") value_of[2] = "true"
  if (cri_off && value_of[1] == "") value_of[1] = image
  if (value_of[2] != "true") problems = problems "SystemdCgroup is " (value_of[2] == "" ? "not set" : value_of[2]) " (kubeadm gives the kubelet the systemd cgroup driver)\n"
  if (value_of[1] != image) problems = problems "the sandbox image is " (value_of[1] == "" ? "not set" : value_of[1]) " (kubeadm " minor " expects " image ")\n"
  sub(/\n$/, "", problems); gsub(/\n/, "; ", problems)
  print address " " problems
}'

# containerd_read FILE OUT: OUT gets FILE's effective configuration (defaults
# when FILE does not exist); fails with containerd's complaint in CTD_ERROR.
containerd_read() {
  if [ -e "$1" ]; then
    containerd --config "$1" config dump >"$2" 2>"$2.err" && return 0
    CTD_ERROR=$(grep -v '^time=.*level=warning' "$2.err" | tail -n 1)
    return 1
  fi
  containerd_default && cp "$CTD_TMP/default" "$2"
}

# $CTD_TMP/default: `containerd config default`, made once, only when needed.
containerd_default() {
  [ -e "$CTD_TMP/default" ] && return 0
  containerd config default >"$CTD_TMP/default" 2>"$CTD_TMP/default.err" && return 0
  CTD_ERROR="containerd config default failed: $(tail -n 1 "$CTD_TMP/default.err")"
  rm -f "$CTD_TMP/default"
  return 1
}

# containerd_check DUMP: CTD_SOCKET and CTD_PROBLEMS ("" when all is as kubeadm needs).
containerd_check() {
  out=$(awk -v mode=check -v version="$CTD_VERSION" -v image="$PAUSE_IMAGE" -v minor="$K8S_MINOR" "$CONTAINERD_AWK" "$1")
  CTD_SOCKET=unix://${out%% *} CTD_PROBLEMS=${out#* }
  [ -n "$out" ] || CTD_PROBLEMS="awk could not read containerd's configuration dump"
}

step_containerd() {
  CTD_CRI_SOCKET=unix:///run/containerd/containerd.sock
  chosen_runtime
  case "$CHOSEN_RUNTIME" in
    containerd) ;;
    docker) emit containerd info "not used: the runtime is docker (cri-dockerd serves the CRI)"; return 0 ;;
    *) emit containerd info "containerd is not installed: nothing to configure (see the runtime step)"; return 0 ;;
  esac
  if ! unit_installed containerd; then emit containerd info "containerd is not installed: nothing to configure (see the runtime step)"; return 0; fi
  if ! have containerd; then emit containerd failed "containerd.service is installed but no containerd program is on PATH: reinstall containerd"; return 1; fi
  release=$(containerd --version 2>/dev/null | awk '{ print $3 }')
  case "${release#v}" in
    1.*) CTD_VERSION=2 ;;
    2.*|3.*) CTD_VERSION=3 ;;
    *) emit containerd failed "cannot tell containerd's version from \"containerd --version\" ($release): kpki knows containerd 1.x and 2.x"; return 1 ;;
  esac
  CTD_TMP=$(mktemp -d /tmp/kpki-containerd.XXXXXX) || { emit containerd failed "mktemp failed in /tmp"; return 1; }
  containerd_step_in "$release"
  rc=$?
  rm -rf "$CTD_TMP"
  return $rc
}

containerd_step_in() {
  release=$1 file=$CONTAINERD_CONFIG tmp=$CTD_TMP
  broken=
  if containerd_read "$file" "$tmp/current"; then
    base=$tmp/current
    containerd_check "$tmp/current"
    problems=$CTD_PROBLEMS CTD_CRI_SOCKET=$CTD_SOCKET
  elif [ ! -e "$file" ]; then
    emit containerd failed "$CTD_ERROR"; return 1
  else
    broken=$CTD_ERROR base=$tmp/default
    problems="$file is not a configuration containerd can load ($broken)"
  fi
  wanted="CRI on, SystemdCgroup = true, sandbox image $PAUSE_IMAGE (containerd $release, config version $CTD_VERSION)"
  if [ -z "$problems" ]; then emit containerd ok "$wanted"; return 0; fi
  if [ "$MODE" = check ]; then
    CONTAINERD_PENDING=yes
    if [ -n "$broken" ]; then emit containerd would-change "$problems: kpki would back it up and write $wanted"
    else emit containerd would-change "$problems"; fi
    return 0
  fi

  # The new file, checked by containerd itself before it replaces the old one.
  containerd_default || { emit containerd failed "$CTD_ERROR"; return 1; }
  { printf '# Written by kpki node prep from containerd'"'"'s effective configuration:\n# %s.\n' "$wanted"
    awk -v mode=write -v version="$CTD_VERSION" -v image="$PAUSE_IMAGE" -v self="$file" "$CONTAINERD_AWK" "$base" "$tmp/default"; } >"$tmp/new"
  if ! containerd_read "$tmp/new" "$tmp/verify"; then
    emit containerd failed "the configuration kpki made does not load ($CTD_ERROR); $file left as it was"; return 1
  fi
  containerd_check "$tmp/verify"
  if [ -n "$CTD_PROBLEMS" ]; then emit containerd failed "after kpki's changes containerd still reports: $CTD_PROBLEMS (set by an imports = file?); $file left as it was"; return 1; fi
  CTD_CRI_SOCKET=$CTD_SOCKET

  backup=
  if [ -e "$file" ]; then
    backup=$file.kpki-$(date +%Y%m%d%H%M%S)
    cp -p "$file" "$backup" || { emit containerd failed "could not back up $file"; return 1; }
  fi
  mkdir -p "${file%/*}" && cat "$tmp/new" >"$file.kpki-new" && chmod 644 "$file.kpki-new" && mv -f "$file.kpki-new" "$file" \
    || { rm -f "$file.kpki-new"; emit containerd failed "could not write $file"; return 1; }
  done_detail="$wanted${backup:+; backup $backup}"
  if [ -n "$broken" ]; then done_detail="$file was not a configuration containerd can load ($broken): replaced; $done_detail"
  else done_detail="$problems: fixed; $done_detail"; fi
  # Only a running containerd needs a restart; the runtime step starts a stopped one.
  if [ "$(systemctl is-active containerd 2>/dev/null)" = active ]; then
    if ! systemctl restart containerd >/dev/null 2>&1; then
      emit containerd failed "$done_detail; but systemctl restart containerd failed: see journalctl -u containerd"; return 1
    fi
    done_detail="$done_detail; containerd restarted"
  fi
  emit containerd changed "$done_detail"
}
