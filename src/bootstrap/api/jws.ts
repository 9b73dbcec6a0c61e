import { createHmac, timingSafeEqual } from "node:crypto";

const b64url = (data: string | Buffer) => Buffer.from(data).toString("base64url");

/**
 * The detached JWS kube-controller-manager's BootstrapSigner puts in
 * cluster-info as `jws-kubeconfig-<token id>` (kubeadm-facts §4): header
 * {"alg":"HS256","kid":"<id>"}, HMAC-SHA256 keyed with the token secret over
 * b64url(header) "." b64url(kubeconfig), payload left out:
 * `<header>..<signature>`.
 */
export function detachedJws(content: string, tokenId: string, tokenSecret: string): string {
  const header = b64url(JSON.stringify({ alg: "HS256", kid: tokenId }));
  const signature = createHmac("sha256", tokenSecret).update(`${header}.${b64url(content)}`).digest();
  return `${header}..${b64url(signature)}`;
}

/** Whether a detached JWS signs `content` with this token (constant-time compare). */
export function detachedJwsValid(jws: string, content: string, tokenId: string, tokenSecret: string): boolean {
  const expected = Buffer.from(detachedJws(content, tokenId, tokenSecret));
  const given = Buffer.from(jws.trim());
  return expected.length === given.length && timingSafeEqual(expected, given);
}
