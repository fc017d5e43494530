import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

export interface RestResponse {
  status: number;
  headers: Headers;
  body: any;
}

/** The development operator, with every role, that test requests act as by default. */
export const TEST_OPERATOR = 'tester';
const CREDENTIAL_HEADERS = new Set(['authorization', 'x-api-key', 'x-dev-operator']);

/** Calls the server over plain HTTP and parses a JSON body when there is one. */
export async function http(
  baseUrl: string,
  method: string,
  path: string,
  options: {
    json?: unknown;
    body?: string;
    headers?: Record<string, string>;
    /** Sends no credentials; without it, a request that names none acts as TEST_OPERATOR. */
    anonymous?: boolean;
  } = {},
): Promise<RestResponse> {
  const headers: Record<string, string> = { ...options.headers };
  const named = Object.keys(headers).some((name) => CREDENTIAL_HEADERS.has(name.toLowerCase()));
  if (!named && !options.anonymous) headers['x-dev-operator'] = TEST_OPERATOR;
  let body = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  if (response.headers.get('content-type')?.includes('json') && text.length > 0)
    parsed = JSON.parse(text);
  return { status: response.status, headers: response.headers, body: parsed };
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Sends a request with the method and path exactly as given, which fetch would refuse (TRACE)
 * or rewrite (dot segments); returns the status and headers.
 */
export function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(baseUrl);
    const request = httpRequest({ hostname, port, path, method, agent: false }, (response) => {
      response.resume();
      resolve({ status: response.statusCode ?? 0, headers: response.headers });
    });
    request.on('error', reject);
    request.end();
  });
}
