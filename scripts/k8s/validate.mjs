#!/usr/bin/env node
// Validates every Kubernetes object in the YAML files (or stdin) given against the Kubernetes JSON schemas
// (npm kubernetes-models). Prints one line per invalid object and exits 1 if any is invalid or unknown.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const sources = process.argv.length > 2 ? process.argv.slice(2) : ["/dev/stdin"];
let checked = 0;
const failures = [];

for (const source of sources) {
  for (const document of parseAllDocuments(readFileSync(source, "utf8"))) {
    if (document.errors.length > 0) {
      failures.push(`${source}: YAML error: ${document.errors[0].message}`);
      continue;
    }
    const object = document.toJS();
    if (object == null) continue;
    const name = `${object.apiVersion}/${object.kind} ${object.metadata?.name ?? "<unnamed>"}`;
    let model;
    try {
      model = (await import(`kubernetes-models/${object.apiVersion}`))[object.kind];
    } catch {
      model = undefined;
    }
    if (typeof model !== "function") {
      failures.push(`${name}: no schema for this apiVersion/kind`);
      continue;
    }
    try {
      new model(object).validate();
      checked++;
    } catch (error) {
      failures.push(`${name}: ${error.message}`);
    }
  }
}

for (const failure of failures) console.log(`invalid: ${failure}`);
console.log(`validated ${checked} objects, ${failures.length} invalid`);
process.exit(failures.length > 0 || checked === 0 ? 1 : 0);
