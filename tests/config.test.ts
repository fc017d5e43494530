import * as assert from 'uvu/assert';
import { ConfigError, loadConfig } from '../server/config.ts';
import { suite } from './helpers/suite.ts';

const required = {
  DATABASE_URL: 'postgresql://127.0.0.1:5432/kyc',
  MONGO_URI: 'mongodb://127.0.0.1:27017',
};

function errorOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    assert.instance(error, ConfigError);
    return (error as Error).message;
  }
  return assert.unreachable('expected a ConfigError') as never;
}

const config = suite('loadConfig');

config('applies defaults', () => {
  const parsed = loadConfig(required);

  assert.is(parsed.API_PREFIX, '/api/v1');
  assert.is(parsed.PORT, 8080);
  assert.is(parsed.MONGO_DB_NAME, 'kyc_audit');
  assert.is(parsed.PROJECT_NAME, 'KYC Back Office');
  assert.is(parsed.LOG_LEVEL, 'info');
  assert.is(parsed.NODE_ENV, 'development');
});

config('names a missing variable and the fix', () => {
  const message = errorOf({ MONGO_URI: required.MONGO_URI });

  assert.match(message, 'DATABASE_URL is not set');
  assert.match(message, 'postgresql://');
});

config('treats an empty value as unset', () => {
  assert.match(errorOf({ ...required, DATABASE_URL: '' }), 'DATABASE_URL is not set');
  assert.is(loadConfig({ ...required, PORT: '' }).PORT, 8080);
});

config('rejects a malformed URL', () => {
  assert.match(
    errorOf({ ...required, MONGO_URI: 'http://127.0.0.1' }),
    'MONGO_URI must be a mongodb://',
  );
  assert.match(
    errorOf({ ...required, DATABASE_URL: 'not a url' }),
    'DATABASE_URL must be a postgresql://',
  );
});

config('rejects a bad port', () => {
  assert.match(errorOf({ ...required, PORT: 'eighty' }), 'PORT must be a number');
  assert.match(errorOf({ ...required, PORT: '70000' }), 'PORT must be between 0 and 65535');
});

config('rejects a prefix with a trailing slash', () => {
  assert.match(errorOf({ ...required, API_PREFIX: '/api/' }), 'API_PREFIX must start with "/"');
});

config('rejects an unknown log level and environment', () => {
  assert.match(errorOf({ ...required, LOG_LEVEL: 'verbose' }), 'LOG_LEVEL');
  assert.match(errorOf({ ...required, NODE_ENV: 'staging' }), 'NODE_ENV');
});

config('lists every bad variable at once', () => {
  const message = errorOf({ PORT: 'x' });

  assert.match(message, 'DATABASE_URL');
  assert.match(message, 'MONGO_URI');
  assert.match(message, 'PORT');
});

config.run();
