import { KpkiError } from "../../errors.js";
import { apiRequest, ConnectionError } from "./apiclient.js";
import { CLUSTER_INFO_PATH, clusterInfoFromConfigMap, clusterOfClusterInfo } from "./clusterinfo.js";
import { detachedJwsValid } from "./jws.js";
import type { BootstrapToken } from "./token.js";
import { caOf } from "./trust.js";

export interface DiscoveryStep {
  step: string;
  ok: boolean;
  detail: string;
}

export interface DiscoveryResult {
  server: string;
  ok: boolean;
  /** The API server the joining node will use afterwards (from cluster-info). */
  clusterServer?: string;
  caPin?: string;
  caSubject?: string;
  steps: DiscoveryStep[];
}

/**
 * kubeadm join's token discovery (kubeadm-facts §4), standalone and step by
 * step, so an operator learns why a join would fail before running it:
 * read cluster-info without trusting the server yet, check the token's JWS
 * over it, check the CA pin, then read it again trusting only that CA and
 * require the same bytes.
 */
export async function verifyDiscovery(options: {
  server: string;
  token: BootstrapToken;
  pins: readonly string[];
  /** kubeadm's --discovery-token-unsafe-skip-ca-verification. */
  skipCaVerification?: boolean;
  timeoutMs?: number;
}): Promise<DiscoveryResult> {
  const { server, token } = options;
  const result: DiscoveryResult = { server, ok: false, steps: [] };
  const step = (name: string, ok: boolean, detail: string) => {
    result.steps.push({ step: name, ok, detail });
    return ok;
  };
  const fetchInfo = async (caPem?: string, tlsServerName?: string) => {
    const response = await apiRequest({ server, insecure: !caPem, caPem, tlsServerName, timeoutMs: options.timeoutMs }, "GET", CLUSTER_INFO_PATH);
    if (response.status === 401 || response.status === 403) {
      throw new KpkiError("verify", `HTTP ${response.status}: anonymous users may not read kube-public/cluster-info (kubeadm binds kubeadm:bootstrap-signer-clusterinfo to system:anonymous; anonymous auth must be on)`);
    }
    if (response.status === 404) throw new KpkiError("verify", "HTTP 404: there is no kube-public/cluster-info (kubeadm init phase bootstrap-token makes it)");
    if (response.status !== 200) throw new KpkiError("verify", `HTTP ${response.status} reading cluster-info`);
    return clusterInfoFromConfigMap(response.body);
  };

  try {
    const info = await fetchInfo();
    step("fetch cluster-info", true, `read ${CLUSTER_INFO_PATH} without verifying the server (the token and pin do that next)`);
    const jws = info.signatures[token.id];
    if (!jws) {
      step("find the token's signature", false,
        `token id "${token.id}" is invalid for this cluster or it has expired: cluster-info has no jws-kubeconfig-${token.id} ` +
          `(unknown or expired token, a token without usage-bootstrap-signing, or kube-controller-manager's bootstrapsigner not running)` +
          (Object.keys(info.signatures).length ? `; it is signed for ${Object.keys(info.signatures).length} other token(s)` : ""));
      return result;
    }
    step("find the token's signature", true, `jws-kubeconfig-${token.id} is there`);
    const signed = detachedJwsValid(jws, info.kubeconfig, token.id, token.secret);
    if (!step("check the signature", signed,
      signed ? "the JWS (HS256, keyed with the token's secret) signs cluster-info's kubeconfig"
        : "failed to verify JWS signature: the token's secret half is wrong, or cluster-info was altered")) {
      return result;
    }
    const cluster = clusterOfClusterInfo(info.kubeconfig);
    step("one cluster", true, `cluster-info names server ${cluster.server}`);
    const ca = caOf(cluster.caPem);
    result.clusterServer = cluster.server;
    result.caPin = ca.pin;
    result.caSubject = ca.subject;
    if (options.skipCaVerification) {
      step("check the CA pin", true, `skipped (--unsafe-skip-ca-verification): the CA is ${ca.pin}, trusted because the token signed it`);
    } else if (!step("check the CA pin", options.pins.includes(ca.pin),
      options.pins.includes(ca.pin) ? `the CA (${ca.subject}) matches ${ca.pin}`
        : `the CA's pin is ${ca.pin}, not ${options.pins.join(" or ")}: the wrong cluster, or a wrong --ca-hash`)) {
      return result;
    }
    const same = (await fetchInfo(ca.pem)).kubeconfig === info.kubeconfig;
    if (!step("fetch again over verified TLS", same,
      same ? "the server proves it holds a certificate from that CA, and serves the same cluster-info" : "cluster-info differs between the two reads")) {
      return result;
    }
    result.ok = true;
  } catch (error) {
    if (!(error instanceof KpkiError)) throw error;
    step(error instanceof ConnectionError ? "connect" : "cluster-info", false, error.message);
  }
  return result;
}
