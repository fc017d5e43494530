import { ConfigError, loadConfig, loadEnvFileIfPresent } from './config.ts';
import { StartupError, startServer } from './server.ts';

try {
  loadEnvFileIfPresent();
  const config = loadConfig();
  const server = await startServer(config);
  const shutdown = (signal: string) => {
    server.log.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
} catch (error) {
  if (error instanceof ConfigError || error instanceof StartupError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    process.stderr.write(
      `Port ${process.env.PORT ?? 8080} is in use by another program. Set PORT to a free port.\n`,
    );
    process.exit(1);
  }
  throw error;
}
