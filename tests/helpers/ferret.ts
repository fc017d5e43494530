import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FERRETDB_BIN } from './env.ts';
import { onTeardown } from './suite.ts';

async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Picks a free port below Linux's default ephemeral range (32768-60999). While FerretDB is
 * killed, an outgoing connection could otherwise take its port as a local port and make the
 * restart fail.
 */
async function stablePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await isPortFree(port)) return port;
  }
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline)
      throw new Error(`FerretDB did not listen on port ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A FerretDB process of the test's own, on loopback with a SQLite data directory, that can
 * be killed and started again on the same port and data.
 */
export class FerretProcess {
  private child: ChildProcess | null = null;

  private constructor(
    readonly port: number,
    private readonly debugPort: number,
    private readonly dir: string,
  ) {}

  static async start(): Promise<FerretProcess> {
    const dir = await mkdtemp(join(tmpdir(), 'kyc-ferret-'));
    await mkdir(join(dir, 'data'));
    const ferret = new FerretProcess(await stablePort(), await stablePort(), dir);
    onTeardown(() => ferret.destroy());
    await ferret.resume();
    return ferret;
  }

  get uri(): string {
    return `mongodb://127.0.0.1:${this.port}`;
  }

  async resume(): Promise<void> {
    const child = spawn(
      FERRETDB_BIN,
      [
        '--handler=sqlite',
        `--sqlite-url=file:${join(this.dir, 'data')}/`,
        `--listen-addr=127.0.0.1:${this.port}`,
        `--debug-addr=127.0.0.1:${this.debugPort}`,
        `--state-dir=${this.dir}`,
        '--telemetry=disable',
        '--log-level=warn',
      ],
      { env: { ...process.env, DO_NOT_TRACK: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    let output = '';
    const keep = (chunk: Buffer) => {
      output = `${output}${chunk.toString()}`.slice(-2000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const failedToStart = new Promise<never>((_, reject) => {
      child.once('close', (code, signal) => {
        reject(
          new Error(
            `FerretDB exited (${signal ?? `code ${code}`}) before listening on port ${this.port}: ${output.trim()}`,
          ),
        );
      });
      child.once('error', (error) => {
        reject(
          new Error(
            `FERRETDB_BIN (${FERRETDB_BIN}) could not be started: ${error.message}. Set FERRETDB_BIN to a FerretDB 1.24 binary.`,
          ),
        );
      });
    });
    await Promise.race([waitForPort(this.port, 15_000), failedToStart]);
  }

  /** Kills the server at once, as a crash would. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    this.child = null;
  }

  async destroy(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }
}
