// Writes the OpenAPI document to docs/openapi.json, the snapshot that review compares:
// npm run openapi. With --check, compares instead and exits with 1 when the snapshot is stale.
import { readFile, writeFile } from 'node:fs/promises';
import { buildOpenApiDocument } from '../server/http/openapi.ts';

const SNAPSHOT = new URL('../docs/openapi.json', import.meta.url);
// The document as a server with the default PROJECT_NAME and API_PREFIX serves it.
const text = `${JSON.stringify(buildOpenApiDocument('KYC Back Office', '/api/v1'), null, 2)}\n`;

if (process.argv.includes('--check')) {
  const stored = await readFile(SNAPSHOT, 'utf8').catch(() => '');
  if (stored !== text) {
    process.stderr.write(
      'docs/openapi.json differs from the API the code defines. Run `npm run openapi` and commit the result.\n',
    );
    process.exit(1);
  }
  process.stdout.write('docs/openapi.json matches the API.\n');
} else {
  await writeFile(SNAPSHOT, text);
  process.stdout.write('Wrote docs/openapi.json.\n');
}
