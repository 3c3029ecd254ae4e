// Run tests/micropython/mp_core_cases.py under MicroPython (WebAssembly) against a copy of
// src/deviceflow/core placed in MicroPython's in-memory file system. Prints the cases' output and
// exits 0 only when every case passed.
//
//   node tests/micropython/run_core.mjs
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..", "..");
const pkg = join(root, ".cache", "node", "node_modules", "@micropython",
  "micropython-webassembly-pyscript", "micropython.mjs");
const { loadMicroPython } = await import(pathToFileURL(pkg).href);

const lines = [];
const mp = await loadMicroPython({
  heapsize: 8 * 1024 * 1024,
  stdout: (line) => { lines.push(line); console.log(line); },
  stderr: (line) => console.error(line),
});

const core = join(root, "src", "deviceflow", "core");
mp.FS.mkdirTree("/lib/deviceflow/core");
// An empty package __init__: the real one pulls in CPython-only parts (transports, client).
mp.FS.writeFile("/lib/deviceflow/__init__.py", "");
for (const name of readdirSync(core).filter((n) => n.endsWith(".py"))) {
  mp.FS.writeFile(`/lib/deviceflow/core/${name}`, readFileSync(join(core, name)));
}
mp.FS.writeFile("/lib/mp_core_cases.py", readFileSync(join(here, "mp_core_cases.py")));

try {
  mp.runPython([
    "import sys",
    "sys.path.append('/lib')",
    "print('MicroPython', sys.implementation.version)",
    "import mp_core_cases",
    "mp_core_cases.main()",
  ].join("\n"));
} catch (error) {
  // A PythonError carries the traceback; never dump the minified runtime.
  console.error(error && error.message ? error.message : String(error));
  process.exit(2);
}
const summary = lines.find((line) => line.startsWith("CORE-CASES "));
process.exit(summary && summary.endsWith(" failed=0") ? 0 : 1);
