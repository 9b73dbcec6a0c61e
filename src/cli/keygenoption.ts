import { KEYGENS } from "../pki/keygen.js";

/** `--keygen`, for every command that makes a key. No yargs default: init's --config may set it. */
export const keygenOption = {
  choices: KEYGENS,
  describe: "how RSA keys are made: primes (two primes from Node's generatePrime, FIPS 186-5 A.1.3) or openssl (OpenSSL's own RSA generator) [default: primes]",
} as const;
