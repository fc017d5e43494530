// Starts `npm run local` (scripts/local.ts) as a user would, waits until it is ready, reads
// what it serves, stops it with SIGTERM and prints one JSON line with what it saw. The local
// test runs this in a network namespace without network, so it proves the mode works offline.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const port = process.env.PORT ?? '18400';
const base = `http://127.0.0.1:${port}`;
const started = performance.now();
const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/local.ts'], {
  cwd: ROOT,
  env: { ...process.env, PORT: port, LOG_LEVEL: 'info' },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let output = '';
child.stdout.on('data', (chunk) => {
  output += chunk;
});
child.stderr.on('data', (chunk) => {
  output += chunk;
});
const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));

let readyMs: number | null = null;
const deadline = Date.now() + 240_000;
while (Date.now() < deadline && child.exitCode === null) {
  const ready = await fetch(`${base}/health/ready`).catch(() => null);
  if (ready?.status === 200) {
    readyMs = Math.round(performance.now() - started);
    break;
  }
  await new Promise((wait) => setTimeout(wait, 250));
}
const list = readyMs
  ? await fetch(`${base}/api/v1/applications?limit=100`, { headers: { 'x-dev-operator': 'probe' } })
  : null;
const items = list ? ((await list.json()) as { items: unknown[] }).items.length : 0;
const docs = readyMs ? (await fetch(`${base}/docs`)).status : 0;
child.kill('SIGTERM');
const code = await exited;
const line = output.split('\n').find((entry) => entry.includes('local mode'));
process.stdout.write(
  `${JSON.stringify({ readyMs, items, docs, code, localMode: line ? JSON.parse(line) : null, tail: output.slice(-2000) })}\n`,
);
