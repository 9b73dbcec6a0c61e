import type { CertInfo } from "./certinfo.js";
import { issuedBy } from "./ownership.js";
import { verifyCertificate, type VerifyProblem } from "./verify.js";

/**
 * Whether a presented chain (leaf first) leads to `ca`: each certificate
 * issued by the next, until one the CA issued (or the CA itself); the leaf
 * valid now and covering `host`. Every problem, in words.
 */
export function verifyChain(chain: readonly CertInfo[], ca: CertInfo, options: { host?: string; now?: Date } = {}): VerifyProblem[] {
  const [leaf] = chain;
  if (!leaf) return [{ code: "not-issued-by-ca", message: "the server presented no certificate" }];
  const problems: VerifyProblem[] = [];
  for (let index = 0; ; index++) {
    const cert = chain[index]!;
    if (cert.der.length === ca.der.length && Buffer.from(cert.der).equals(Buffer.from(ca.der))) break;
    if (issuedBy(cert, ca)) {
      problems.push(...verifyCertificate({ cert, ca, now: options.now }).filter((problem) => problem.code !== "wrong-purpose"));
      break;
    }
    const next = chain[index + 1];
    if (!next || !issuedBy(cert, next)) {
      problems.push({
        code: "not-issued-by-ca",
        message: `${index === 0 ? "the server's certificate" : `chain certificate ${index + 1}`} (${cert.subject}) is issued by "${cert.issuer}", which is neither the given CA ("${ca.subject}") nor in the chain: the server belongs to another CA`,
      });
      break;
    }
  }
  // The leaf's own validity and name, against whichever certificate issued it.
  const issuer = chain[1] && issuedBy(leaf, chain[1]) ? chain[1] : ca;
  const leafProblems = verifyCertificate({ cert: leaf, ca: issuer, host: options.host, now: options.now });
  for (const problem of leafProblems) {
    if (["expired", "not-yet-valid", "host-mismatch"].includes(problem.code) && !problems.some((known) => known.code === problem.code)) problems.push(problem);
  }
  return problems;
}
