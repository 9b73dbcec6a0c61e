#!/usr/bin/env node
// The CLI ships as a minified bundle (dist/kpki-cli.js, with lazily loaded
// chunks): loading yargs and @peculiar/x509 from hundreds of small modules
// would cost more than generating the keys. The prestart entry is tiny and
// runs first, so `init` starts its key generation before the rest loads.
import { prestart } from "../dist/kpki-prestart.js";

prestart(process.argv.slice(2));
const { runAndExit } = await import("../dist/kpki-cli.js");
await runAndExit(process.argv.slice(2));
