import path from "node:path";
import { KpkiError } from "../errors.js";
import { buildCsr } from "./csr.js";
import { generateKeyPair, type Keygen } from "./keygen.js";
import { encodePrivateKeyPem, type KeyType } from "./keys.js";
import { addAltNames, altNameList, formatAltName, parseAltName, type AltNames } from "./names.js";
import { MODES, PkiStore } from "./store.js";
import { checkSubjectText, type Subject } from "./subject.js";

export interface CsrFilesOptions {
  dir: string;
  name: string;
  subject: Subject;
  sans: readonly string[];
  keyType: KeyType;
  /** How an RSA key is made (default: from primes). */
  keygen?: Keygen;
  force?: boolean;
}

/** Writes <name>.key and <name>.csr for a CA kpki does not hold. */
export async function createCsrFiles(options: CsrFilesOptions) {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(options.name)) {
    throw new KpkiError("usage", `--name "${options.name}" must be a plain file name (letters, digits, ".", "_", "-")`);
  }
  checkSubjectText(options.subject.commonName, "--cn");
  options.subject.organizations.forEach((org) => checkSubjectText(org, "--org"));
  const altNames: AltNames = addAltNames({ dns: [], ips: [] }, options.sans.map((san) => parseAltName(san)));
  const store = new PkiStore(options.dir);
  const keyFile = `${options.name}.key`;
  const csrFile = `${options.name}.csr`;
  await store.ensureFolder();
  const unlock = await store.lock();
  await store.recover().catch(async (error) => {
    await unlock();
    throw error;
  });
  try {
    if ((await store.exists(keyFile)) && !options.force) {
      throw new KpkiError("conflict", `${store.path(keyFile)} exists: kpki never overwrites a key; use --force to replace it, or choose another --name`);
    }
    const key = await generateKeyPair(options.keyType, options.keygen);
    const csr = await buildCsr(key, options.subject, altNames);
    await store.writeAll([
      { file: keyFile, data: encodePrivateKeyPem(key), mode: MODES.key },
      { file: csrFile, data: csr.pem, mode: MODES.csr },
    ]);
    return {
      keyFile: path.join(options.dir, keyFile),
      csrFile: path.join(options.dir, csrFile),
      subject: csr.subject,
      altNames: altNameList(altNames).map(formatAltName),
      keyType: options.keyType,
    };
  } finally {
    await unlock();
  }
}
