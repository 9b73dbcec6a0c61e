# Shared by a test host's recording shims and its boot script.
#
# Installed at /usr/lib/kpki-testhost/lib.sh in the flavour layer. Per-host
# state lives in /run/testhost (the host's state folder "shim/", bound there):
#   conf/env            FLAVOUR FAMILY SYSTEMD_VERSION ... (written by the harness)
#   conf/crashloop/U    unit U is "activating (auto-restart)" until the path in the file exists
#   faults/KEY          an injected failure: first line exit code, the rest goes to stderr
#   runtime/            reset on every boot: swaps (bound over /proc/swaps), modules
#                       (over /proc/modules), meminfo (over /proc/meminfo), units/U,
#                       selinux, firewalld/ZONE, reboot-requested
#   calls.log           one line per shim call
# Hot paths use bash builtins only: a process start costs 7-10 ms here.

TH=/run/testhost
RT=$TH/runtime
FAULTS=$TH/faults
CONF=$TH/conf
# shellcheck source=/dev/null
. "$CONF/env"

# Appends this call to calls.log: "name arg arg" (arguments shell-quoted).
th_record() {
  local name=$1 quoted=
  shift
  (($#)) && printf -v quoted ' %q' "$@"
  printf '%s%s\n' "$name" "$quoted" >>"$TH/calls.log"
}

# th_fault KEY... : succeeds when a failure was injected for one of the keys
# (faults/KEY). Leaves its exit status in TH_FAULT_CODE and prints its message
# on stderr, or DEFAULT_MESSAGE when the fault file gives none.
th_fault() {
  local key code message
  for key; do
    [[ -e $FAULTS/$key ]] || continue
    code= message=
    { IFS= read -r code; IFS= read -r -d '' message; } <"$FAULTS/$key"
    [[ -n $message ]] || message=$DEFAULT_MESSAGE
    [[ -n $message ]] && printf '%s' "$message" >&2
    TH_FAULT_CODE=${code:-1}
    return 0
  done
  return 1
}

# ---- swap: runtime/swaps is what the host sees as /proc/swaps ----------------

SWAP_HEADER=$'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority'
SW_NAME=() SW_TYPE=() SW_SIZE=() SW_USED=() SW_PRIO=()

swaps_load() {
  local name type size used prio
  SW_NAME=() SW_TYPE=() SW_SIZE=() SW_USED=() SW_PRIO=()
  {
    read -r _
    while read -r name type size used prio; do
      [[ -n $name ]] || continue
      SW_NAME+=("$name") SW_TYPE+=("$type") SW_SIZE+=("$size") SW_USED+=("$used") SW_PRIO+=("$prio")
    done
  } <"$RT/swaps"
}

swaps_save() {
  local i out=$SWAP_HEADER$'\n' line type total=0
  for i in "${!SW_NAME[@]}"; do
    type=${SW_TYPE[i]}
    [[ $type == file ]] && type=$'file\t'
    printf -v line '%-40s%s\t%s\t\t%s\t\t%s\n' "${SW_NAME[i]}" "$type" "${SW_SIZE[i]}" "${SW_USED[i]}" "${SW_PRIO[i]}"
    out+=$line
    total=$((total + SW_SIZE[i]))
  done
  printf '%s' "$out" >"$RT/swaps"
  meminfo_save "$total"
}

# /proc/meminfo with SwapTotal/SwapFree matching the active swaps.
meminfo_save() {
  local key value unit out= line
  while read -r key value unit; do
    case $key in
      SwapTotal: | SwapFree:) value=$1 ;;
    esac
    printf -v line '%-15s %8s%s\n' "$key" "$value" "${unit:+ $unit}"
    out+=$line
  done <"$RT/meminfo.base"
  printf '%s' "$out" >"$RT/meminfo"
}

# The name the kernel shows for an fstab swap spec (UUID=/LABEL= resolve to a disk).
swap_name() {
  case $1 in
    UUID=* | LABEL=* | PARTUUID=* | PARTLABEL=*) REPLY=$SWAP_DISK ;;
    *) REPLY=$1 ;;
  esac
}

swap_index() {
  local i
  for i in "${!SW_NAME[@]}"; do
    [[ ${SW_NAME[i]} == "$1" ]] && { REPLY=$i; return 0; }
  done
  return 1
}

# swap_on SPEC [PRIORITY]: adds SPEC to the loaded swaps unless it is there.
swap_on() {
  swap_name "$1"
  local name=$REPLY type=partition size=$SWAP_KIB prio
  swap_index "$name" && return 0
  [[ $name == /dev/* ]] || type=file
  [[ $name == /dev/zram* ]] && size=$ZRAM_KIB
  prio=${2:-$((-2 - ${#SW_NAME[@]}))}
  SW_NAME+=("$name") SW_TYPE+=("$type") SW_SIZE+=("$size") SW_USED+=(0) SW_PRIO+=("$prio")
}

# swap_off NAME: removes it; fails when it is not active.
swap_off() {
  swap_name "$1"
  swap_index "$REPLY" || return 1
  local i=$REPLY
  unset 'SW_NAME[i]' 'SW_TYPE[i]' 'SW_SIZE[i]' 'SW_USED[i]' 'SW_PRIO[i]'
  SW_NAME=("${SW_NAME[@]}") SW_TYPE=("${SW_TYPE[@]}") SW_SIZE=("${SW_SIZE[@]}") SW_USED=("${SW_USED[@]}") SW_PRIO=("${SW_PRIO[@]}")
}

# Swap lines of /etc/fstab that are not commented out: FSTAB_SPEC[], FSTAB_OPTS[].
fstab_swaps() {
  local spec file type opts rest
  FSTAB_SPEC=() FSTAB_OPTS=()
  [[ -r /etc/fstab ]] || return 0
  while read -r spec file type opts rest; do
    [[ -z $spec || $spec == \#* ]] && continue
    [[ $type == swap ]] || continue
    FSTAB_SPEC+=("$spec") FSTAB_OPTS+=("$opts")
  done </etc/fstab
}

# ---- units ---------------------------------------------------------------

# unit_name NAME: REPLY = NAME with ".service" added when it has no unit suffix.
unit_name() {
  case $1 in
    *.service | *.socket | *.target | *.swap | *.mount | *.timer | *.path | *.slice | *.scope | *.device) REPLY=$1 ;;
    *) REPLY=$1.service ;;
  esac
}

# systemd-escape --path: /dev/mapper/cs-swap -> dev-mapper-cs\x2dswap
path_escape() {
  local path=$1 out= c i hex
  case $path in
    UUID=*) path=/dev/disk/by-uuid/${path#UUID=} ;;
    LABEL=*) path=/dev/disk/by-label/${path#LABEL=} ;;
  esac
  while [[ $path == /* ]]; do path=${path#/}; done
  for ((i = 0; i < ${#path}; i++)); do
    c=${path:i:1}
    case $c in
      /) out+=- ;;
      [a-zA-Z0-9:_]) out+=$c ;;
      .) if ((i == 0)); then out+='\x2e'; else out+=.; fi ;;
      *) printf -v hex '\\x%02x' "'$c"; out+=$hex ;;
    esac
  done
  REPLY=$out
}

unit_masked() {
  [[ /etc/systemd/system/$1 -ef /dev/null || /run/systemd/system/$1 -ef /dev/null ]]
}

# unit_path UNIT: REPLY = its unit file (not a mask); fails when not installed.
unit_path() {
  local dir
  for dir in /etc/systemd/system /run/systemd/system /usr/lib/systemd/system; do
    if [[ -f $dir/$1 && ! $dir/$1 -ef /dev/null ]]; then
      REPLY=$dir/$1
      return 0
    fi
  done
  REPLY=
  return 1
}

# Swap units are generated from fstab and exist while their line does.
swap_unit_spec() {
  local i
  fstab_swaps
  for i in "${!FSTAB_SPEC[@]}"; do
    path_escape "${FSTAB_SPEC[i]}"
    [[ $REPLY.swap == "$1" ]] && { REPLY=${FSTAB_SPEC[i]}; return 0; }
  done
  [[ $1 == dev-zram0.swap ]] && zram_configured && { REPLY=/dev/zram0; return 0; }
  return 1
}

unit_exists() {
  unit_path "$1" && return 0
  [[ $1 == *.swap ]] && swap_unit_spec "$1"
}

unit_enabled() {
  local link
  for link in /etc/systemd/system/*.wants/"$1" /etc/systemd/system/*.requires/"$1" /usr/lib/systemd/system/*.wants/"$1"; do
    [[ -L $link || -e $link ]] && return 0
  done
  return 1
}

# REPLY = masked | enabled | disabled | static | generated | "" (no such unit file)
unit_file_state() {
  if unit_masked "$1"; then REPLY=masked
  elif unit_enabled "$1"; then REPLY=enabled
  elif unit_path "$1"; then
    unit_install_target "$REPLY"
    if [[ -n $REPLY ]]; then REPLY=disabled; else REPLY=static; fi
  elif [[ $1 == *.swap ]] && swap_unit_spec "$1"; then REPLY=generated
  else REPLY=
  fi
}

# unit_install_target FILE: REPLY = its first WantedBy= target ("" when static).
unit_install_target() {
  local line section=
  REPLY=
  while IFS= read -r line; do
    case $line in
      \[*) section=$line ;;
      WantedBy=* | RequiredBy=*) [[ $section == '[Install]' ]] && { REPLY=${line#*=}; REPLY=${REPLY%% *}; return 0; } ;;
    esac
  done <"$1"
}

# unit_state UNIT: REPLY = active | inactive | failed | activating (a crash-looping active unit)
unit_state() {
  local state=inactive condition
  if [[ $1 == *.swap ]]; then
    swap_unit_spec "$1" && swap_name "$REPLY" && swaps_load && swap_index "$REPLY" && state=active
    REPLY=$state
    return 0
  fi
  [[ -r $RT/units/$1 ]] && read -r state <"$RT/units/$1"
  [[ $state == active ]] && daemon_unit "$1" && ! daemon_alive "$1" && state=failed
  if [[ $state == active && -r $CONF/crashloop/$1 ]]; then
    read -r condition <"$CONF/crashloop/$1"
    [[ -e $condition ]] || state=activating
  fi
  REPLY=$state
}

unit_set_state() {
  printf '%s\n' "$2" >"$RT/units/$1"
}

# ---- real daemons: units listed in conf/daemons/U really run -----------------
# conf/daemons/U: first line what tells the daemon is ready (systemd would
# wait for its sd_notify): a path that exists then, or log:TEXT, a line its
# output shows then; second line the command.
# It runs in its own session inside the host's PID namespace (so it dies with
# the host), its output in runtime/U.log, its PID in runtime/U.pid.

daemon_unit() { [[ -r $CONF/daemons/$1 ]]; }

daemon_alive() {
  local pid
  [[ -r $RT/$1.pid ]] || return 1
  read -r pid <"$RT/$1.pid"
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && [[ $(<"/proc/$pid/stat") != *") Z "* ]]
}

daemon_stop() {
  local pid i
  [[ -r $RT/$1.pid ]] || return 0
  read -r pid <"$RT/$1.pid"
  rm -f "$RT/$1.pid"
  [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null && [[ $(<"/proc/$pid/stat" 2>/dev/null) != *") Z "* ]] || return 0
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null
  return 0
}

# daemon_start UNIT: starts it and waits (90 s at most, as systemd would) until it is ready.
daemon_start() {
  local ready command pid log=$RT/$1.log start deadline
  { IFS= read -r ready; IFS= read -r command; } <"$CONF/daemons/$1"
  daemon_alive "$1" && return 0
  # Readiness is looked for in what this start logs, after its marker: the line of
  # an earlier start (a restart) is not this one being ready.
  start="-- kpki-testhost: starting $1 ($EPOCHREALTIME) --"
  printf '%s\n' "$start" >>"$log"
  # shellcheck disable=SC2086
  (exec setsid $command </dev/null >>"$log" 2>&1) &
  pid=$!
  printf '%s\n' "$pid" >"$RT/$1.pid"
  # systemd's default start timeout (DefaultTimeoutStartSec=90s): a host on a busy machine
  # is slow to start a daemon, not failing to.
  deadline=$((SECONDS + 90))
  while ((SECONDS < deadline)); do
    if [[ $ready == log:* ]]; then
      local output
      output=$(<"$log")
      [[ ${output##*"$start"} == *"${ready#log:}"* ]] && return 0
    elif [[ -e $ready ]]; then
      return 0
    fi
    daemon_alive "$1" || break
    sleep 0.05
  done
  daemon_stop "$1"
  printf 'Job for %s failed because the control process exited with error code.\nSee "systemctl status %s" and "journalctl -xeu %s" for details.\n' "$1" "$1" "$1" >&2
  TH_FAULT_CODE=1
  return 1
}

# unit_start UNIT: starts an installed, unmasked unit unless a failure was injected.
# Fails like systemd (message on stderr, exit status in TH_FAULT_CODE).
unit_start() {
  local unit=$1 verb=${2:-start}
  if unit_masked "$unit"; then
    printf 'Failed to %s %s: Unit %s is masked.\n' "$verb" "$unit" "$unit" >&2
    TH_FAULT_CODE=1
    return 1
  fi
  if ! unit_exists "$unit"; then
    printf 'Failed to %s %s: Unit %s not found.\n' "$verb" "$unit" "$unit" >&2
    TH_FAULT_CODE=5
    return 1
  fi
  local DEFAULT_MESSAGE="Job for $unit failed because the control process exited with error code.
See \"systemctl status $unit\" and \"journalctl -xeu $unit\" for details.
"
  if th_fault "systemctl.$verb.$unit" "systemctl.start.$unit"; then
    [[ $unit == *.swap ]] || unit_set_state "$unit" failed
    return 1
  fi
  if [[ $unit == *.swap ]]; then
    swap_unit_spec "$unit" && swaps_load && swap_on "$REPLY" && swaps_save
  elif daemon_unit "$unit"; then
    [[ $verb == start ]] || daemon_stop "$unit" # restart, try-restart, reload-or-restart
    if ! daemon_start "$unit"; then unit_set_state "$unit" failed; return 1; fi
    unit_set_state "$unit" active
  else
    unit_set_state "$unit" active
  fi
}

# ---- kernel modules: runtime/modules is what the host sees as /proc/modules ----

module_loaded() {
  local name rest
  while read -r name rest; do
    [[ $name == "$1" ]] && return 0
  done <"$RT/modules"
  return 1
}

module_load() {
  module_loaded "$1" && return 0
  printf '%s 16384 0 - Live 0x0000000000000000\n' "$1" >>"$RT/modules"
}

module_unload() {
  local name rest out= line
  while IFS= read -r line; do
    read -r name rest <<<"$line"
    [[ $name == "$1" ]] || out+=$line$'\n'
  done <"$RT/modules"
  printf '%s' "$out" >"$RT/modules"
}

# ---- SELinux, zram, firewalld --------------------------------------------------

selinux_mode() {
  REPLY=Disabled
  [[ -r $RT/selinux ]] && read -r REPLY <"$RT/selinux"
}

# Whether zram-generator would make /dev/zram0 at boot: its config (the
# vendor default, unless /etc overrides it) has a [zram0] section.
zram_configured() {
  local config=/usr/lib/systemd/zram-generator.conf line
  [[ -e /etc/systemd/zram-generator.conf ]] && config=/etc/systemd/zram-generator.conf
  [[ -r $config ]] || return 1
  while IFS= read -r line; do
    [[ $line == '[zram0]'* ]] && return 0
  done <"$config"
  return 1
}

# firewalld_zone_file ZONE: REPLY = the permanent configuration in effect.
firewalld_zone_file() {
  REPLY=/etc/firewalld/zones/$1.xml
  [[ -e $REPLY ]] || REPLY=/usr/lib/firewalld/zones/$1.xml
}

# firewalld_permanent_ports ZONE: REPLY = "6443/tcp 10250/tcp ..."
firewalld_permanent_ports() {
  local line ports=()
  firewalld_zone_file "$1"
  if [[ -r $REPLY ]]; then
    while IFS= read -r line; do
      if [[ $line =~ \<port\ .*port=\"([^\"]+)\" ]]; then
        local port=${BASH_REMATCH[1]}
        [[ $line =~ protocol=\"([^\"]+)\" ]] && ports+=("$port/${BASH_REMATCH[1]}")
      fi
    done <"$REPLY"
  fi
  REPLY=${ports[*]}
}

# firewalld_write_permanent ZONE PORT...: rewrites /etc/firewalld/zones/ZONE.xml with these ports.
firewalld_write_permanent() {
  local zone=$1 line out= port
  shift
  firewalld_zone_file "$zone"
  local source=$REPLY
  while IFS= read -r line; do
    [[ $line =~ \<port\  ]] && continue
    if [[ $line == '</zone>'* ]]; then
      for port; do out+="  <port port=\"${port%/*}\" protocol=\"${port#*/}\"/>"$'\n'; done
    fi
    out+=$line$'\n'
  done <"$source"
  [[ -d /etc/firewalld/zones ]] || mkdir -p /etc/firewalld/zones
  printf '%s' "$out" >"/etc/firewalld/zones/$zone.xml"
}
