import { spawn } from 'node:child_process';

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
}

/** Runs `command` with `args` until it exits, and collects its exit code and output. */
export function runCommand(
  command: string,
  args: string[],
  options: RunOptions = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs the Node that runs the tests, with `args`. */
export function runNode(args: string[], options: RunOptions = {}): Promise<ProcessResult> {
  return runCommand(process.execPath, args, options);
}

/**
 * Runs npm with `args`: the npm that started the tests when there is one, else the first on
 * PATH, under the Node that runs the tests either way.
 */
export function runNpm(args: string[], options: RunOptions = {}): Promise<ProcessResult> {
  const cli = process.env.npm_execpath;
  return cli?.endsWith('.js') ? runNode([cli, ...args], options) : runCommand('npm', args, options);
}
