# os: the distribution from /etc/os-release; sets FAMILY for the steps after it.
step_os() {
  if [ ! -r /etc/os-release ]; then emit os failed "no /etc/os-release: cannot tell the distribution"; return 1; fi
  ID= VERSION_ID= ID_LIKE= PRETTY_NAME=
  . /etc/os-release
  major=${VERSION_ID%%.*}
  family=
  case "$ID" in
    centos) case "$major" in 7|8|9) family=rhel ;; esac ;;
    rhel|rocky|almalinux) case "$major" in 8|9) family=rhel ;; esac ;;
    fedora) family=rhel ;;
    debian) case "$major" in 11|12) family=debian ;; esac ;;
    ubuntu) case "$VERSION_ID" in 20.04|22.04|24.04) family=debian ;; esac ;;
  esac
  fact os "$PRETTY_NAME"
  if [ -z "$family" ]; then
    if [ -n "$OS_FAMILY_OVERRIDE" ]; then
      family=$OS_FAMILY_OVERRIDE
      emit os warn "$PRETTY_NAME is not a distribution kpki knows; treated as $family (--os-family)"
    else
      emit os failed "$PRETTY_NAME ($ID $VERSION_ID) is not supported (CentOS 7, CentOS Stream 8/9, RHEL/Rocky/Alma 8/9, Fedora, Debian 11/12, Ubuntu 20.04/22.04/24.04): give --os-family rhel|debian to go on anyway"
      return 1
    fi
  else
    emit os ok "$PRETTY_NAME ($family family)"
  fi
  FAMILY=$family
  fact family "$FAMILY"
}
