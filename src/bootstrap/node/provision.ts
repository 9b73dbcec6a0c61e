import { gzipSync } from "node:zlib";
import { stringify } from "yaml";
import { loadTemplate, renderTemplate } from "../../templates.js";
import { renderNodeScript, type NodeScriptOptions } from "./steps.js";

/** Where the script lands on the node and where it leaves its report. */
export const PROVISION_PATHS = { script: "/var/lib/kpki/node-prep.sh", reportDir: "/var/log/kpki" } as const;

/**
 * The smallest user-data limit among the common clouds: EC2 takes 16 KiB
 * (before base64); Azure's custom data 64 KiB, GCE's metadata value 256 KiB.
 */
export const USER_DATA_LIMIT_BYTES = 16_384;

/**
 * The node preparation as one self-contained shell script for a provisioning
 * engine: the very script `kpki node prep` sends over SSH (lib.sh and the
 * step files, through renderNodeScript), then the same in check mode, with
 * the report left in files on the node.
 */
export function renderProvisionScript(options: Omit<NodeScriptOptions, "mode">): string {
  const prep = renderNodeScript({ ...options, mode: "apply" }).replace(/\n+$/, "");
  const check = renderNodeScript({ ...options, mode: "check" }).replace(/\n+$/, "");
  for (const [text, marker] of [[prep, "KPKI_NODE_PREP_SCRIPT"], [check, "KPKI_NODE_CHECK_SCRIPT"]] as const) {
    // A here-document ends at its marker: the scripts must never hold it.
    if (text.split("\n").includes(marker)) throw new Error(`the node script holds the line ${marker}`);
  }
  return renderTemplate(loadTemplate("provision/node-prep.sh"), {
    role: options.role,
    kubernetes: options.kubernetes.patch ?? options.kubernetes.minor,
    report_dir: PROVISION_PATHS.reportDir,
    prep_script: prep,
    check_script: check,
  });
}

/**
 * #cloud-config user-data: write_files puts the script on the node
 * (gzip+base64: the prep and check scripts share most of their text, so
 * together they cost little more than one), runcmd runs it once, in
 * cloud-init's final stage. Returns the size and any warning about it.
 */
export function renderCloudConfig(options: Omit<NodeScriptOptions, "mode">, limitBytes = USER_DATA_LIMIT_BYTES): { text: string; bytes: number; warnings: string[] } {
  const script = renderProvisionScript(options);
  const config = {
    write_files: [
      {
        path: PROVISION_PATHS.script,
        owner: "root:root",
        permissions: "0700",
        encoding: "gz+b64",
        content: gzipSync(script, { level: 9 }).toString("base64"),
      },
    ],
    runcmd: [["sh", PROVISION_PATHS.script]],
  };
  const header = [
    "#cloud-config",
    `# kpki node cloud-init: role ${options.role}, Kubernetes ${options.kubernetes.patch ?? options.kubernetes.minor}.`,
    `# ${PROVISION_PATHS.script} is kpki node prep's script, then its check; the report: ${PROVISION_PATHS.reportDir}/node-prep.txt`,
  ].join("\n");
  const text = `${header}\n${stringify(config, { lineWidth: 0 })}`;
  const bytes = Buffer.byteLength(text);
  const warnings =
    bytes > limitBytes
      ? [`the user-data is ${bytes} bytes, past the limit of ${limitBytes} (EC2 takes 16 KiB, Azure 64 KiB, GCE 256 KiB): ship --format script in the image, or fetch it with #include`]
      : [];
  return { text, bytes, warnings };
}
