// Rewrites the README's catalog tables from the catalog (npm run docs).
import { readFileSync, writeFileSync } from "node:fs";
import { catalogMarkdown } from "../dist/pki/catalogdoc.js";

const readme = new URL("../README.md", import.meta.url);
const text = readFileSync(readme, "utf8");
const updated = text.replace(/(<!-- catalog:start -->\n)[\s\S]*?(<!-- catalog:end -->)/, `$1${catalogMarkdown()}\n$2`);
if (updated === text && !text.includes("<!-- catalog:start -->")) throw new Error("README.md has no <!-- catalog:start --> marker");
writeFileSync(readme, updated);
