import { readBoundedSync } from "../../inputbounds.js";
import path from "node:path";
import { KpkiError } from "../../errors.js";
import { parseKubeconfig } from "../../pki/kubeconfig.js";
import { readPrivateKeyPem } from "../../pki/keyshape.js";
import { readCertificatePem } from "./trust.js";
import { apiRequest, checkApiServerUrl, type ApiResponse, type ApiTarget } from "./apiclient.js";

/** An API target from a kubeconfig (its current context, or `context`; `contextFlag`: the command takes --context). */
export function targetFromKubeconfig(file: string, context?: string, contextFlag = true): ApiTarget {
  let text: string;
  try {
    text = readBoundedSync(file).toString("utf8");
  } catch (error) {
    if (error instanceof KpkiError) throw error;
    throw new KpkiError("input", `cannot read the kubeconfig ${file}: give an admin kubeconfig with --kubeconfig (e.g. /etc/kubernetes/admin.conf)`);
  }
  const loaded = parseKubeconfig(text, file, { context, baseDir: path.dirname(path.resolve(file)), contextFlag });
  // TLS would refuse damaged PEM with a bare OpenSSL error (or worse, see keyshape.ts): check each first, naming the field.
  if (loaded.caPem) readCertificatePem(loaded.caPem, `${file}: certificate-authority`);
  if (loaded.clientCertPem) readCertificatePem(loaded.clientCertPem, `${file}: client-certificate`);
  if (loaded.clientKeyPem) readPrivateKeyPem(loaded.clientKeyPem, `${file}: client-key`);
  checkApiServerUrl(loaded.server, `${file}: server`);
  if (!loaded.caPem && !loaded.insecureSkipTlsVerify) {
    throw new KpkiError("input", `${file}: cluster "${loaded.clusterName}" has no certificate-authority(-data): kpki verifies the server, so the kubeconfig must name its CA`);
  }
  return {
    server: loaded.server,
    caPem: loaded.caPem,
    insecure: loaded.insecureSkipTlsVerify,
    clientCertPem: loaded.clientCertPem,
    clientKeyPem: loaded.clientKeyPem,
    bearerToken: loaded.token,
  };
}

interface Status {
  kind?: string;
  message?: string;
  reason?: string;
}

/** The API's answer when it is one of `ok`; otherwise a KpkiError with the server's own message. */
export async function expectStatus(response: Promise<ApiResponse>, ok: readonly number[], doing: string): Promise<ApiResponse> {
  const result = await response;
  if (ok.includes(result.status)) return result;
  const status = result.body as Status | undefined;
  const message = status?.kind === "Status" && status.message ? status.message : result.text.slice(0, 200) || `HTTP ${result.status}`;
  const hint =
    result.status === 401
      ? ": the kubeconfig's credentials were not accepted"
      : result.status === 403
        ? ": the kubeconfig's user may not do this; use an admin kubeconfig"
        : "";
  throw new KpkiError(result.status === 401 || result.status === 403 ? "verify" : "input", `${doing} failed (HTTP ${result.status}, ${message})${hint}`);
}

export const api = {
  get: (target: ApiTarget, apiPath: string) => apiRequest(target, "GET", apiPath),
  post: (target: ApiTarget, apiPath: string, body: unknown) => apiRequest(target, "POST", apiPath, body),
  delete: (target: ApiTarget, apiPath: string) => apiRequest(target, "DELETE", apiPath),
};
