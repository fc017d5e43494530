// The server as the benchmarks run it: `server/main.ts` in a process of its own, in production
// mode with the benchmark credentials, and the request body they send to intake.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { BENCH_SERVER_ENV } from './credentials.ts';

/** Starts the server on `port` and waits until /health/ready responds 200, for 30 s at most. */
export async function startBenchServer(
  env: { DATABASE_URL: string; MONGO_URI: string; MONGO_DB_NAME: string } & Record<string, string>,
  port: number,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: { ...process.env, ...BENCH_SERVER_ENV, PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let attempt = 0; attempt < 150; attempt++) {
    if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode}`);
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => null);
    if (ready?.ok) return child;
    await delay(200);
  }
  child.kill('SIGKILL');
  throw new Error('server was not ready within 30 s');
}

/** Numbers for the phones of the generated applications, from a random start. */
let phoneSequence = Math.floor(Math.random() * 500_000);

/**
 * Builds an application with a new external reference, email, phone and document number, so
 * that no two of them are duplicates that take turns on one lock.
 */
export function applicationBody(): string {
  const key = randomUUID();
  phoneSequence = (phoneSequence + 1) % 1_000_000;
  return JSON.stringify({
    externalReference: `bench-${key}`,
    applicant: {
      fullName: 'Ana-María Larsson',
      email: `ana.${key.slice(0, 12)}@example.org`,
      phone: `+44 7400 ${String(phoneSequence).padStart(6, '0')}`,
      country: 'GB',
    },
    document: {
      type: 'passport',
      number: `P${key.replaceAll('-', '').slice(0, 9).toUpperCase()}`,
      issuingCountry: 'GB',
      imageUrl: 'https://files.example.org/documents/1.jpg',
    },
  });
}
