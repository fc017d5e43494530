// Helpers shared by the benchmarks: percentiles, Markdown tables, the machine and database
// facts, and the sections of docs/benchmarks.md that each benchmark rewrites.
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import type { EntityManager } from '@mikro-orm/postgresql';

const DOCS_FILE = new URL('../../docs/benchmarks.md', import.meta.url);

/** The nearest-rank percentile of `samples`, which must be sorted. */
export const percentile = (samples: number[], fraction: number) =>
  samples[Math.max(0, Math.ceil(fraction * samples.length) - 1)] ?? Number.NaN;

export function markdownTable(header: string[], rows: string[][]): string {
  const escapeCell = (cell: string) => cell.replaceAll('|', '\\|');
  return [
    `| ${header.map(escapeCell).join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(escapeCell).join(' | ')} |`),
  ].join('\n');
}

/**
 * Replaces the text between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` in
 * docs/benchmarks.md, adding a `## heading` section with the markers when they are missing.
 */
export async function writeDocsSection(name: string, heading: string, body: string): Promise<void> {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  let page: string;
  try {
    page = await readFile(DOCS_FILE, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    page = '# Benchmarks\n';
  }
  const from = page.indexOf(start);
  const to = page.indexOf(end);
  const section = `${start}\n${body}\n${end}`;
  if (from !== -1 && to > from) {
    page = page.slice(0, from) + section + page.slice(to + end.length);
  } else {
    page = `${page.trimEnd()}\n\n## ${heading}\n\n${section}\n`;
  }
  await writeFile(DOCS_FILE, page);
}

export async function serverFacts(em: EntityManager) {
  const [row] = await em.execute<Record<string, string>[]>(
    `select version() as version, current_setting('shared_buffers') as shared_buffers,
       current_setting('work_mem') as work_mem, current_setting('random_page_cost') as random_page_cost,
       current_setting('jit') as jit`,
  );
  if (!row) throw new Error('No server facts.');
  return row;
}

/** Describes this machine: CPU model and count, memory and Node version. */
export function machineFacts(): string {
  const cpuList = cpus();
  const memory = (totalmem() / 1024 ** 3).toFixed(1);
  return `${cpuList[0]?.model.trim() ?? 'unknown CPU'}, ${cpuList.length} CPUs, ${memory} GiB memory; Node ${process.version}`;
}
