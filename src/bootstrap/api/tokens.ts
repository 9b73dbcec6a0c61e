import { KpkiError } from "../../errors.js";
import type { ApiTarget } from "./apiclient.js";
import { api, expectStatus } from "./cluster.js";
import { tokenSecretObject } from "./manifests.js";
import { secretName, tokenFromSecret, TOKEN_SECRET_TYPE, type TokenInfo, type TokenSpec } from "./token.js";

const SECRETS = "/api/v1/namespaces/kube-system/secrets";

/** Creates the token's Secret; a token id already in use is a conflict, never overwritten. */
export async function createTokenSecret(target: ApiTarget, spec: TokenSpec): Promise<void> {
  const response = await api.post(target, SECRETS, tokenSecretObject(spec));
  if (response.status === 409) {
    throw new KpkiError("conflict", `a token with id ${spec.token.id} exists already: choose another token (or let kpki generate one)`);
  }
  await expectStatus(Promise.resolve(response), [201, 200], "creating the token's Secret");
}

export async function listTokens(target: ApiTarget, now = new Date()): Promise<TokenInfo[]> {
  const response = await expectStatus(api.get(target, `${SECRETS}?fieldSelector=${encodeURIComponent(`type=${TOKEN_SECRET_TYPE}`)}`), [200], "listing tokens");
  const items = (response.body as { items?: unknown })?.items;
  return (Array.isArray(items) ? items : [])
    .filter((item) => (item as { type?: unknown } | null)?.type === TOKEN_SECRET_TYPE)
    .map((item) => tokenFromSecret(item, now))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** The token's Secret, or undefined when there is none. */
export async function getTokenSecret(target: ApiTarget, id: string): Promise<TokenInfo | undefined> {
  const response = await api.get(target, `${SECRETS}/${secretName(id)}`);
  if (response.status === 404) return undefined;
  await expectStatus(Promise.resolve(response), [200], `reading ${secretName(id)}`);
  return tokenFromSecret(response.body);
}

export async function deleteToken(target: ApiTarget, id: string): Promise<"deleted" | "absent"> {
  const response = await api.delete(target, `${SECRETS}/${secretName(id)}`);
  if (response.status === 404) return "absent";
  await expectStatus(Promise.resolve(response), [200, 202], `deleting ${secretName(id)}`);
  return "deleted";
}
