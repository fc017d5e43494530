// Runs the benchmarks named on the command line, or all of them, and exits with status 1 when
// one of them fails its limits. Usage: npm run bench -- [NAME...] [--fresh]
import { runHttpBenchmark } from './http.ts';
import { runQueueBenchmark } from './queue.ts';
import { runRelayBenchmark } from './relay.ts';
import { runScreeningBenchmark } from './screening.ts';
import { runWebhookBenchmark } from './webhooks.ts';

const BENCHMARKS: Record<string, (options: { fresh: boolean }) => Promise<boolean>> = {
  http: runHttpBenchmark,
  queue: runQueueBenchmark,
  relay: runRelayBenchmark,
  screening: runScreeningBenchmark,
  webhooks: runWebhookBenchmark,
};

const args = process.argv.slice(2);
const options = { fresh: false };
const names: string[] = [];
for (const arg of args) {
  if (arg === '--fresh') options.fresh = true;
  else if (arg in BENCHMARKS) names.push(arg);
  else {
    process.stderr.write(
      `Unknown argument "${arg}". Usage: npm run bench -- [${Object.keys(BENCHMARKS).join('|')}...] [--fresh]; --fresh regenerates the benchmark data.\n`,
    );
    process.exit(2);
  }
}

let failed = false;
for (const name of names.length > 0 ? names : Object.keys(BENCHMARKS)) {
  const started = performance.now();
  const passed = await BENCHMARKS[name]?.(options);
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  process.stderr.write(`${name}: ${passed ? 'passed' : 'failed its limits'} in ${seconds} s\n`);
  if (!passed) failed = true;
}
process.exitCode = failed ? 1 : 0;
