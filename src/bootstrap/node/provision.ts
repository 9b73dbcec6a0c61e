import { gzipSync } from "node:zlib";
import { stringify } from "yaml";
import { loadTemplate, renderTemplate } from "../../templates.js";
import { dropCommentLines } from "./shellcompact.js";
import { renderNodeScript, type NodeScriptOptions } from "./steps.js";

/** Where the script lands on the node and where it leaves its report. */
export const PROVISION_PATHS = { script: "/var/lib/kpki/node-prep.sh", reportDir: "/var/log/kpki" } as const;

/**
 * The smallest user-data limit among the common clouds: EC2 takes 16 KiB
 * (before base64); Azure's custom data 64 KiB, OpenStack's 64 KiB, GCE's
 * metadata value 256 KiB.
 */
export const USER_DATA_LIMIT_BYTES = 16_384;

const HEREDOC_MARKER = "KPKI_NODE_SCRIPT";

/**
 * The node preparation as one self-contained shell script for a provisioning
 * engine: the script `kpki node prep` sends over SSH (lib.sh and the step
 * files, through renderNodeScript), once, without its comment lines; run to
 * prepare the node, then again in check mode, with the report left in files
 * on the node.
 */
export function renderProvisionScript(options: Omit<NodeScriptOptions, "mode">): string {
  // Without the preflight step: it only gathers facts for kpki's TypeScript to judge (\`kpki node check\`),
  // nothing on the node reads them, and kubeadm runs its own preflight there at init/join; leaving them out
  // keeps the user-data under EC2's 16 KiB with room for a mirror key.
  const script = dropCommentLines(renderNodeScript({ ...options, mode: "argument" }, { without: ["preflight"] }).replace(/\n+$/, ""));
  // A here-document ends at its marker: the script must never hold it.
  if (script.split("\n").includes(HEREDOC_MARKER)) throw new Error(`the node script holds the line ${HEREDOC_MARKER}`);
  const kubernetes = options.kubernetes.patch ?? options.kubernetes.minor;
  const [shebang, ...rest] = dropCommentLines(
    renderTemplate(loadTemplate("provision/node-prep.sh"), { role: options.role, kubernetes, report_dir: PROVISION_PATHS.reportDir, node_script: script }),
  ).split("\n");
  // The comments are the template's; the node gets one line saying what this is.
  const about = `# kpki node prep for a provisioning engine: role ${options.role}, Kubernetes ${kubernetes}; prepares, then checks; the report: ${PROVISION_PATHS.reportDir}/node-prep.txt`;
  return `${[shebang, about, ...rest].join("\n")}\n`;
}

export interface CloudConfig {
  /** What to hand the cloud: the #cloud-config text, gzip-compressed unless asked not to. */
  userData: Buffer;
  /** The #cloud-config text itself. */
  text: string;
  bytes: number;
  warnings: string[];
}

/**
 * #cloud-config user-data: write_files puts the script on the node
 * (encoding gz+b64), runcmd runs it once, in cloud-init's final stage. The
 * whole is gzip-compressed by default, which cloud-init takes as it is
 * ("content found to be gzip compressed will be uncompressed"): the script
 * is ~12.5 KB gzipped, so as text (base64's third on top) it would be past
 * EC2's 16 KiB, gzipped it is under. Returns the size and any warning about it.
 */
export function renderCloudConfig(options: Omit<NodeScriptOptions, "mode">, { gzip = true, limitBytes = USER_DATA_LIMIT_BYTES } = {}): CloudConfig {
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
  const header = `#cloud-config\n# kpki node cloud-init: role ${options.role}, Kubernetes ${options.kubernetes.patch ?? options.kubernetes.minor}; the report: ${PROVISION_PATHS.reportDir}/node-prep.txt`;
  const text = `${header}\n${stringify(config, { lineWidth: 0 })}`;
  const userData = gzip ? gzipSync(text, { level: 9 }) : Buffer.from(text);
  const bytes = userData.length;
  const warnings =
    bytes > limitBytes
      ? [
          `the user-data is ${bytes} bytes${gzip ? " gzipped" : ""}, past the limit of ${limitBytes} (EC2 takes 16 KiB, Azure and OpenStack 64 KiB, GCE 256 KiB): ${gzip ? "ship --format script in the image, or fetch it with #include" : "leave out --no-gzip, ship --format script in the image, or fetch it with #include"}`,
        ]
      : [];
  return { userData, text, bytes, warnings };
}
