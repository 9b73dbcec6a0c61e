import { parseEndpoint } from "../pki/spec.js";

/**
 * An API server address as kubeadm join takes it, "host:port", "[v6]:port"
 * or a bare host (port 6443), as well as an https:// URL: the URL to use.
 */
export function apiServerUrl(text: string, flag = "--server"): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text.trim())) return text.trim();
  const { host, port } = parseEndpoint(text, 6443, flag);
  return `https://${host.type === "ip" && host.value.includes(":") ? `[${host.value}]` : host.value}:${port}`;
}
