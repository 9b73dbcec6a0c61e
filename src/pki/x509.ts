// @peculiar/x509 needs a Reflect metadata polyfill (tsyringe) and costs ~0.1 s
// to load; only modules that build or parse X.509 structures import this one,
// and commands load them lazily so key generation can start first.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
