#!/bin/sh
# kpki node prep, for a provisioning engine (cloud-init, Ignition, PXE
# post-install): role {{role}}, Kubernetes {{kubernetes}}. It runs the script
# `kpki node prep` sends over SSH (its comment lines left out) to prepare the
# node, then the same script in check mode, and leaves the report on the node:
#   {{report_dir}}/node-prep.txt      what changed, then the check (readable)
#   {{report_dir}}/node-prep.report   the prep's KPKI lines (as kpki parses them)
#   {{report_dir}}/node-check.report  the check's KPKI lines
# It exits 1 unless the check finds the node ready for kubeadm init/join.
umask 022
REPORT_DIR={{report_dir}}
mkdir -p "$REPORT_DIR" || exit 1

# The node script, once: its argument says apply or check. It reaches sh on
# standard input, as over SSH.
node_script() { # apply|check
  sh -s "$1" <<'KPKI_NODE_SCRIPT'
{{node_script}}
KPKI_NODE_SCRIPT
}

summary() { # report-file
  awk -F '\t' '$1 == "KPKI" { printf "  %-13s %-10s %s\n", $3, $2, $4 }' "$1"
}

node_script apply >"$REPORT_DIR/node-prep.report" 2>"$REPORT_DIR/node-prep.stderr"
prep_status=$?
node_script check >"$REPORT_DIR/node-check.report" 2>>"$REPORT_DIR/node-prep.stderr"
if [ "$prep_status" -eq 0 ] && ! grep -Eq '^KPKI	[^	]*	(failed|would-change)	' "$REPORT_DIR/node-check.report" && grep -q '^KPKI	' "$REPORT_DIR/node-check.report"; then
  verdict="ready for kubeadm"
else
  verdict="NOT ready"
fi
{
  echo "kpki node prep: role {{role}}, Kubernetes {{kubernetes}}, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "prep:"
  summary "$REPORT_DIR/node-prep.report"
  echo "check:"
  summary "$REPORT_DIR/node-check.report"
  echo "verdict: $verdict"
} >"$REPORT_DIR/node-prep.txt"
chmod 0644 "$REPORT_DIR/node-prep.txt" "$REPORT_DIR/node-prep.report" "$REPORT_DIR/node-check.report"
cat "$REPORT_DIR/node-prep.txt"
[ "$verdict" = "ready for kubeadm" ]
