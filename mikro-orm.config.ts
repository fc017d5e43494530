// Configuration read by the MikroORM CLI (`npx mikro-orm migration:create`, `migration:check`).
import { postgresOptions } from './server/db/postgres.ts';

const url = process.env.DATABASE_URL;
if (!url)
  throw new Error('DATABASE_URL is not set; set it to the PostgreSQL URL the CLI should use.');

export default postgresOptions(url);
