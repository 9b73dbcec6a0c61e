#!/usr/bin/env node
// The CLI ships as one minified bundle (dist/kpki-cli.js, with lazily loaded
// chunks): loading yargs and @peculiar/x509 from hundreds of small modules
// would cost more than generating the keys.
import { main } from "../dist/kpki-cli.js";

process.exitCode = await main(process.argv.slice(2));
