import { existsSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";

/**
 * The kubeconfig a cluster command uses: --kubeconfig, else $KUBECONFIG (its
 * first file), else kubeadm's /etc/kubernetes/admin.conf when readable here,
 * else ~/.kube/config — kubectl's order, with kubeadm's admin file first.
 */
export function resolveKubeconfigPath(flag: string | undefined): string {
  if (flag) return flag;
  const fromEnv = process.env.KUBECONFIG?.split(path.delimiter).find(Boolean);
  if (fromEnv) return fromEnv;
  if (existsSync("/etc/kubernetes/admin.conf")) return "/etc/kubernetes/admin.conf";
  return path.join(homedir(), ".kube", "config");
}

export const kubeconfigOptions = {
  kubeconfig: { type: "string", describe: "admin kubeconfig [default: $KUBECONFIG, /etc/kubernetes/admin.conf, ~/.kube/config]" },
  context: { type: "string", describe: "kubeconfig context [default: its current context]" },
} as const;
