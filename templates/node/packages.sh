# packages: the Kubernetes repository of the target minor with its key;
# kubelet kubeadm kubectl cri-tools at the target version, then held; and
# containerd (Debian family: the distribution's; RHEL family: containerd.io
# from Docker's repository). An installed package at another version is
# never changed without --upgrade. Check mode lists what would be added,
# installed and held, and touches nothing (no apt-cache, no dnf: both write
# caches). A failed key or signature check fails the step naming the URL,
# and the repository files it wrote are put back as they were.
PKG_INSTALL={{pkg_install}}
# yes once a check found packages to install: the runtime and kubelet steps then report what the install brings as pending, not failed.
PKG_PENDING=no
PKG_UPGRADE={{pkg_upgrade}}
K8S_DEB_URL='{{k8s_deb_url}}'
K8S_DEB_KEY='{{k8s_deb_key}}'
K8S_RPM_URL='{{k8s_rpm_url}}'
K8S_RPM_KEY='{{k8s_rpm_key}}'
DOCKER_RPM_URL='{{docker_rpm_url}}'
DOCKER_RPM_KEY='{{docker_rpm_key}}'
PKG_MIRROR_KEY=
{{#if mirror_key}}PKG_MIRROR_KEY=$(cat <<'KPKI_MIRROR_KEY'
{{mirror_key}}KPKI_MIRROR_KEY
)
{{/if}}K8S_PKGS="kubelet kubeadm kubectl cri-tools"
DEB_KEYRING=/etc/apt/keyrings/kubernetes-apt-keyring.asc
DEB_SOURCE=/etc/apt/sources.list.d/kubernetes.list
RPM_REPO=/etc/yum.repos.d/kubernetes.repo
DOCKER_REPO=/etc/yum.repos.d/docker-ce.repo
RPM_MIRROR_KEY=/etc/pki/rpm-gpg/kpki-package-mirror.asc

# The version a package must have: the asked-for patch, else any patch of the minor
# (cri-tools follows the minor only). Epochs (1:) are ignored.
pk_matches() { # name version
  pk_v=${2#*:}
  if [ "$1" != cri-tools ] && [ -n "$K8S_PATCH" ]; then
    case $pk_v in "$K8S_PATCH"-*) return 0 ;; esac; return 1
  fi
  case $pk_v in "$K8S_MINOR".*) return 0 ;; esac; return 1
}
pk_want() { if [ "$1" != cri-tools ] && [ -n "$K8S_PATCH" ]; then printf '%s' "$K8S_PATCH"; else printf '%s.x' "$K8S_MINOR"; fi; }
# Installed version of a package (empty when not installed), from the package database only.
pk_version() {
  if [ "$FAMILY" = debian ]; then
    dpkg-query -W -f '${Status}\t${Version}\n' "$1" 2>/dev/null | awk -F'\t' '$1 ~ / installed$/ { print $2 }'
  else
    rpm -q --qf '%{VERSION}-%{RELEASE}\n' "$1" 2>/dev/null | grep -v ' ' | head -n 1
  fi
}
pk_held() { # Debian: dpkg's selection is "hold" (what apt-mark hold sets)
  dpkg-query -W -f '${Status}\n' "$1" 2>/dev/null | grep -q '^hold '
}
pk_containerd_version() {
  for pk_c in containerd containerd.io; do pk_cv=$(pk_version "$pk_c"); [ -n "$pk_cv" ] && { printf '%s %s' "$pk_c" "$pk_cv"; return 0; }; done
  return 1
}

pk_key_text() { # the key the repository files name: the mirror's, else fetched from $1
  if [ -n "$PKG_MIRROR_KEY" ]; then printf '%s\n' "$PKG_MIRROR_KEY"; return 0; fi
  if have curl; then curl -fsSL --max-time 30 "$1" 2>"$PK_TMP/fetch.err"
  elif have wget; then wget -q -T 30 -O - "$1" 2>"$PK_TMP/fetch.err"
  else echo "neither curl nor wget is installed" >"$PK_TMP/fetch.err"; return 1; fi
}
pk_deb_source() { printf 'deb [signed-by=%s] %s /\n' "$DEB_KEYRING" "$K8S_DEB_URL"; }
pk_rpm_gpgkey() { if [ -n "$PKG_MIRROR_KEY" ]; then printf 'file://%s' "$RPM_MIRROR_KEY"; else printf '%s' "$1"; fi; }
pk_rpm_repo() {
  printf '# kpki: Kubernetes %s packages; the exclude line holds them (install with --disableexcludes=kubernetes)\n' "$K8S_MINOR"
  printf '[kubernetes]\nname=Kubernetes %s\nbaseurl=%s\nenabled=1\ngpgcheck=1\ngpgkey=%s\nexclude=kubelet kubeadm kubectl cri-tools kubernetes-cni\n' \
    "$K8S_MINOR" "$K8S_RPM_URL" "$(pk_rpm_gpgkey "$K8S_RPM_KEY")"
}
pk_docker_repo() {
  printf '# kpki: containerd.io from Docker'"'"'s repository\n[docker-ce-stable]\nname=Docker CE Stable - $basearch\nbaseurl=%s\nenabled=1\ngpgcheck=1\ngpgkey=%s\n' \
    "$(printf '%s' "$DOCKER_RPM_URL" | sed "s|DISTRO|$PK_DOCKER_DISTRO|")" "$(pk_rpm_gpgkey "$(printf '%s' "$DOCKER_RPM_KEY" | sed "s|DISTRO|$PK_DOCKER_DISTRO|")")"
}
# Docker's repository serves these (Rocky, Alma and Oracle Linux use CentOS's).
pk_docker_distro() {
  case "$ID:$major" in
    centos:7|centos:8|centos:9|centos:10|rocky:8|rocky:9|rocky:10|almalinux:8|almalinux:9|almalinux:10|ol:8|ol:9) echo centos ;;
    rhel:8|rhel:9|rhel:10) echo rhel ;;
    fedora:*) echo fedora ;;
    *) return 1 ;;
  esac
}

# A file as it should be: PK_CHANGES names it when it differs. Writing keeps the old one for pk_rollback.
pk_differs() { [ ! -f "$1" ] || ! printf '%s\n' "$2" | cmp -s - "$1"; }
pk_write() { # path content
  pk_n=$((pk_n + 1))
  if [ -e "$1" ]; then cp -p "$1" "$PK_TMP/old.$pk_n" && echo "$pk_n $1" >>"$PK_TMP/written"; else echo "$pk_n $1 new" >>"$PK_TMP/written"; fi
  mkdir -p "$(dirname "$1")" && printf '%s\n' "$2" >"$1" && chmod 644 "$1"
}
pk_rollback() {
  [ -f "$PK_TMP/written" ] || return 0
  while read -r pk_i pk_f pk_new; do
    if [ -n "$pk_new" ]; then rm -f "$pk_f"; else cp -p "$PK_TMP/old.$pk_i" "$pk_f"; fi
  done <"$PK_TMP/written"
}
pk_fail() { [ -n "$PK_TMP" ] && { pk_rollback; rm -rf "$PK_TMP"; }; emit packages failed "$1"; return 1; }
# The first line of a package manager's output that says why it failed, the signature ones first.
pk_why() {
  grep -E 'NO_PUBKEY|not signed|BADSIG|EXPKEYSIG|signatures (were invalid|couldn.t be verified)|GPG check FAILED|Public key for .* is not installed|GPG keys? .*(not correct|failed)|[Ii]mport of key.* failed|Bad GPG signature' "$1" | head -n 1 | grep . && return 0
  # apt's "Err:N URL" has its reason on the next line.
  grep -A1 -E '^Err:' "$1" | head -n 2 | tr -s ' \n' '  ' | grep . && return 0
  grep -E '^(E:|W: Failed|Error:)|Failed to download|Curl error|Cannot download|No match for argument|Unable to locate' "$1" | head -n 1 | grep . && return 0
  tail -n 1 "$1"
}
pk_is_signature() { grep -qE 'NO_PUBKEY|not signed|BADSIG|EXPKEYSIG|signatures (were invalid|couldn.t be verified)|GPG check FAILED|Public key for .* is not installed|GPG keys? .*(not correct|failed)|[Ii]mport of key.* failed|Bad GPG signature' "$1"; }

step_packages() {
  PK_TMP= pk_n=0
  # What is there now.
  PK_HAVE= PK_WRONG= PK_INSTALL= PK_HOLD= PK_MISSING=
  for pk in $K8S_PKGS; do
    pk_v=$(pk_version "$pk")
    if [ -z "$pk_v" ]; then
      PK_INSTALL="$PK_INSTALL $pk"
      # Not from a package, but there (a tarball install): --no-install accepts it.
      pk_prog=$pk; [ "$pk" = cri-tools ] && pk_prog=crictl
      have "$pk_prog" || PK_MISSING="$PK_MISSING $pk"
      continue
    fi
    PK_HAVE="$PK_HAVE, $pk $pk_v"
    if ! pk_matches "$pk" "$pk_v"; then
      pk_h=; { [ "$FAMILY" = debian ] && pk_held "$pk"; } && pk_h=" (held)"
      PK_WRONG="$PK_WRONG, $pk $pk_v$pk_h"
      [ "$PKG_UPGRADE" = yes ] && PK_INSTALL="$PK_INSTALL $pk"
    fi
    [ "$FAMILY" = debian ] && ! pk_held "$pk" && PK_HOLD="$PK_HOLD $pk"
  done
  PK_CONTAINERD=$(pk_containerd_version)
  if [ -n "$PK_CONTAINERD" ]; then PK_HAVE="$PK_HAVE, $PK_CONTAINERD"
  elif have containerd; then PK_HAVE="$PK_HAVE, containerd (not from a package: left as is)"
  else PK_MISSING="$PK_MISSING containerd"; PK_CONTAINERD=install; fi
  [ "$PK_CONTAINERD" = install ] || PK_CONTAINERD=
  PK_HAVE=${PK_HAVE#, } PK_WRONG=${PK_WRONG#, }

  if [ "$PKG_INSTALL" = no ]; then
    if [ -n "$PK_WRONG" ]; then emit packages warn "installed at another version than Kubernetes $(pk_want kubelet): $PK_WRONG (--no-install: left to you)"
    elif [ -n "$PK_MISSING" ]; then emit packages warn "not installed:$PK_MISSING (--no-install: add the Kubernetes $K8S_MINOR repository and install them yourself, or drop --no-install)"
    else emit packages ok "installed: ${PK_HAVE:-nothing} (--no-install)"; fi
    return 0
  fi
  if [ -n "$PK_WRONG" ] && [ "$PKG_UPGRADE" != yes ]; then
    emit packages failed "$PK_WRONG installed, but the target is Kubernetes $(pk_want kubelet): kpki changes an installed version only with --upgrade (kpki node prep --upgrade --kubernetes-version ${K8S_PATCH:-$K8S_MINOR})"
    return 1
  fi

  # The repositories as they should be.
  PK_REPOS=
  if [ "$FAMILY" = debian ]; then
    if pk_differs "$DEB_SOURCE" "$(pk_deb_source)" || [ ! -s "$DEB_KEYRING" ] || { [ -n "$PKG_MIRROR_KEY" ] && pk_differs "$DEB_KEYRING" "$PKG_MIRROR_KEY"; }; then
      PK_REPOS="$K8S_DEB_URL (key $( [ -n "$PKG_MIRROR_KEY" ] && echo "--package-mirror-key" || echo "$K8S_DEB_KEY"))"
    fi
  else
    if [ -n "$PK_CONTAINERD" ]; then
      PK_DOCKER_DISTRO=$(pk_docker_distro) || pk_fail "Docker's repository serves no containerd.io for $PRETTY_NAME: install a container runtime yourself, then run again (it is then left as is)" || return 1
      if pk_differs "$DOCKER_REPO" "$(pk_docker_repo)"; then
        PK_REPOS="$(printf '%s' "$DOCKER_RPM_URL" | sed "s|DISTRO|$PK_DOCKER_DISTRO|") (Docker's, for containerd.io)"
      fi
    fi
    if pk_differs "$RPM_REPO" "$(pk_rpm_repo)" || { [ -n "$PKG_MIRROR_KEY" ] && pk_differs "$RPM_MIRROR_KEY" "$PKG_MIRROR_KEY"; }; then
      PK_REPOS="$K8S_RPM_URL (key $( [ -n "$PKG_MIRROR_KEY" ] && echo "--package-mirror-key" || echo "$K8S_RPM_KEY"))${PK_REPOS:+; $PK_REPOS}"
    fi
  fi

  PK_PLAN=
  [ -n "$PK_REPOS" ] && PK_PLAN="add repository $PK_REPOS"
  pk_list=
  for pk in $PK_INSTALL; do pk_list="$pk_list $pk $(pk_want "$pk")"; done
  [ -n "$PK_CONTAINERD" ] && if [ "$FAMILY" = debian ]; then pk_list="$pk_list containerd (the distribution's)"; else pk_list="$pk_list containerd.io (Docker's)"; fi
  [ -n "$pk_list" ] && PK_PLAN="${PK_PLAN:+$PK_PLAN; }install$pk_list"
  [ "$FAMILY" = debian ] && for pk in $PK_INSTALL; do case " $PK_HOLD " in *" $pk "*) ;; *) PK_HOLD="$PK_HOLD $pk" ;; esac; done
  # RHEL: the exclude line of the Kubernetes repository is the hold.
  [ "$FAMILY" = rhel ] && pk_differs "$RPM_REPO" "$(pk_rpm_repo)" && PK_HOLD=" $K8S_PKGS (exclude= in $RPM_REPO)"
  [ -n "$PK_HOLD" ] && PK_PLAN="${PK_PLAN:+$PK_PLAN; }hold$PK_HOLD"
  [ -n "$PK_WRONG" ] && PK_PLAN="$PK_PLAN (--upgrade: from $PK_WRONG)"

  if [ -z "$PK_PLAN" ]; then
    if [ "$FAMILY" = debian ]; then emit packages ok "$PK_HAVE; held: $K8S_PKGS"
    else emit packages ok "$PK_HAVE; held by the exclude line of $RPM_REPO"; fi
    return 0
  fi
  if [ "$MODE" = check ]; then PKG_PENDING=yes; emit packages would-change "$PK_PLAN"; return 0; fi

  # Apply: package managers' output and the repository files' old contents go to a scratch folder.
  PK_TMP=$(mktemp -d /tmp/kpki-packages.XXXXXX) || { emit packages failed "cannot make a temporary folder in /tmp"; return 1; }

  if [ "$FAMILY" = debian ]; then pk_apply_debian || return 1; else pk_apply_rhel || return 1; fi
  rm -rf "$PK_TMP"
  # Checked again, from the package database.
  pk_now=
  for pk in $K8S_PKGS; do
    pk_v=$(pk_version "$pk")
    pk_matches "$pk" "$pk_v" || { emit packages failed "$pk is ${pk_v:-not installed} after the install, not $(pk_want "$pk")"; return 1; }
    if [ "$FAMILY" = debian ] && ! pk_held "$pk"; then emit packages failed "$pk is not held after apt-mark hold"; return 1; fi
    pk_now="$pk_now, $pk $pk_v"
  done
  pk_c=$(pk_containerd_version) && pk_now="$pk_now, $pk_c"
  pk_now=${pk_now#, }
  emit packages changed "${PK_REPOS:+added $PK_REPOS; }${pk_list:+installed }$pk_now${PK_HOLD:+; held$PK_HOLD}"
}

pk_apply_debian() {
  if [ -n "$PK_REPOS" ]; then
    pk_key=$(pk_key_text "$K8S_DEB_KEY") || pk_fail "cannot fetch the key $K8S_DEB_KEY: $(tail -n 1 "$PK_TMP/fetch.err")" || return 1
    case $pk_key in *"-----BEGIN PGP PUBLIC KEY BLOCK-----"*) ;; *) pk_fail "the key at $K8S_DEB_KEY is not an ASCII-armored OpenPGP key" || return 1 ;; esac
    pk_write "$DEB_KEYRING" "$pk_key"
    pk_write "$DEB_SOURCE" "$(pk_deb_source)"
  fi
  pk_versions=
  # A new repository or key is proven by apt-get update even when nothing is to be installed.
  if [ -n "$PK_INSTALL$PK_CONTAINERD$PK_REPOS" ]; then
    # --error-on=any (apt >= 2.1) turns apt's "W: GPG error" on a repository it had before into a failure.
    pk_err=; apt-get update --help 2>/dev/null | grep -q -- '--error-on' && pk_err=--error-on=any
    DEBIAN_FRONTEND=noninteractive apt-get update -q $pk_err >"$PK_TMP/out" 2>&1
    pk_rc=$?
    if [ $pk_rc -ne 0 ] || grep -qE '^(E:|Err:|W: (GPG error|Failed to fetch|.*not signed))' "$PK_TMP/out"; then
      if pk_is_signature "$PK_TMP/out"; then pk_fail "the signature check of $K8S_DEB_URL failed with the key $( [ -n "$PKG_MIRROR_KEY" ] && echo "given by --package-mirror-key" || echo "from $K8S_DEB_KEY"): $(pk_why "$PK_TMP/out")" || return 1; fi
      pk_fail "apt-get update failed: $(pk_why "$PK_TMP/out")" || return 1
    fi
  fi
  if [ -n "$PK_INSTALL$PK_CONTAINERD" ]; then
    for pk in $PK_INSTALL; do
      pk_best=
      for pk_v in $(apt-cache madison "$pk" 2>/dev/null | awk -F'|' '{ gsub(/ /, "", $2); print $2 }' | sort -rV); do
        pk_matches "$pk" "$pk_v" && { pk_best=$pk_v; break; }
      done
      [ -n "$pk_best" ] || pk_fail "$pk $(pk_want "$pk") is not in $K8S_DEB_URL ($(apt-cache madison "$pk" 2>/dev/null | awk -F'|' '{ gsub(/ /, "", $2); printf "%s ", $2 }' | sed 's/ $//; s/^$/no version/'))" || return 1
      pk_versions="$pk_versions $pk=$pk_best"
    done
    [ -n "$PK_CONTAINERD" ] && pk_versions="$pk_versions containerd"
    pk_allow=; [ "$PKG_UPGRADE" = yes ] && pk_allow="--allow-downgrades --allow-change-held-packages"
    # One transaction: all of it or, when apt refuses, none of it.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $pk_allow $pk_versions >"$PK_TMP/out" 2>&1 \
      || pk_fail "apt-get install$pk_versions failed: $(pk_why "$PK_TMP/out")" || return 1
  fi
  if [ -n "$PK_HOLD" ]; then
    apt-mark hold $PK_HOLD >"$PK_TMP/out" 2>&1 || { pk_out=$(tail -n 1 "$PK_TMP/out"); rm -rf "$PK_TMP"; emit packages failed "apt-mark hold$PK_HOLD failed: $pk_out"; return 1; }
  fi
  return 0
}

pk_apply_rhel() {
  pk_pm=dnf; have dnf || pk_pm=yum
  if [ -n "$PK_REPOS" ]; then
    [ -n "$PKG_MIRROR_KEY" ] && pk_differs "$RPM_MIRROR_KEY" "$PKG_MIRROR_KEY" && pk_write "$RPM_MIRROR_KEY" "$PKG_MIRROR_KEY"
    pk_differs "$RPM_REPO" "$(pk_rpm_repo)" && pk_write "$RPM_REPO" "$(pk_rpm_repo)"
    [ -n "$PK_CONTAINERD" ] && pk_differs "$DOCKER_REPO" "$(pk_docker_repo)" && pk_write "$DOCKER_REPO" "$(pk_docker_repo)"
  fi
  pk_specs=
  for pk in $PK_INSTALL; do
    if [ "$pk" != cri-tools ] && [ -n "$K8S_PATCH" ]; then pk_specs="$pk_specs $pk-$K8S_PATCH"; else pk_specs="$pk_specs $pk-$K8S_MINOR.*"; fi
  done
  [ -n "$PK_CONTAINERD" ] && pk_specs="$pk_specs containerd.io"
  [ -n "$pk_specs" ] || return 0
  pk_verb=install
  # An installed version above the target (--upgrade to an older one) is a downgrade for dnf.
  if [ "$PKG_UPGRADE" = yes ] && [ -n "$PK_WRONG" ]; then
    for pk in $K8S_PKGS; do pk_v=$(pk_version "$pk"); [ -n "$pk_v" ] && [ "$(printf '%s\n%s\n' "$pk_v" "$(pk_want "$pk" | sed 's/\.x$//')" | sort -V | head -n 1)" != "$pk_v" ] && pk_verb=downgrade; done
  fi
  # One transaction, with the repositories' signatures checked (gpgcheck=1). dnf imports a
  # repository's key into the rpm database before it checks: one that failed is taken out again.
  pk_keys=$(rpm -q gpg-pubkey 2>/dev/null | grep -v ' ')
  $pk_pm $pk_verb -y -q --disableexcludes=kubernetes $pk_specs >"$PK_TMP/out" 2>&1
  pk_rc=$?
  if [ $pk_rc -ne 0 ]; then
    for pk_k in $(rpm -q gpg-pubkey 2>/dev/null | grep -v ' '); do
      case " $(echo $pk_keys) " in *" $pk_k "*) ;; *) rpm -e --allmatches "$pk_k" >/dev/null 2>&1 ;; esac
    done
    if pk_is_signature "$PK_TMP/out"; then
      pk_url=$K8S_RPM_URL pk_keyurl=$K8S_RPM_KEY
      if pk_why "$PK_TMP/out" | grep -q 'containerd\.io'; then
        pk_url=$(printf '%s' "$DOCKER_RPM_URL" | sed "s|DISTRO|$PK_DOCKER_DISTRO|") pk_keyurl=$(printf '%s' "$DOCKER_RPM_KEY" | sed "s|DISTRO|$PK_DOCKER_DISTRO|")
      fi
      pk_fail "the signature check of $pk_url failed with the key $( [ -n "$PKG_MIRROR_KEY" ] && echo "given by --package-mirror-key" || echo "from $pk_keyurl"): $(pk_why "$PK_TMP/out")" || return 1
    fi
    pk_fail "$pk_pm $pk_verb$pk_specs failed: $(pk_why "$PK_TMP/out")" || return 1
  fi
  return 0
}
