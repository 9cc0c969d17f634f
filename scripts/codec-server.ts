// The codec server (`npm run codec-server`): Temporal's remote codec protocol over HTTP, so the Temporal Web UI and
// the `temporal` CLI (`--codec-endpoint`) show the payloads that worker/codec.ts encrypted in clear — to the people
// who reach this server. It holds the keys and decrypts whatever it is sent: run it behind the organisation's
// authentication (docs/encryption.md), never open to the network.
//
//   POST /decode, POST /encode   body and answer {"payloads":[{"metadata":{"<key>":"<base64>"},"data":"<base64>"}]}
//                                (also under a /<namespace>/ prefix, for an endpoint templated per namespace)
//   OPTIONS (any path)           the browser's CORS preflight, answered for the allowed origins only
//   GET /healthz                 "ok"
//
// Settings: RUNBOOKS_CODEC_KEYS (the worker's keys; required), RUNBOOKS_CODEC_ADDRESS (default 127.0.0.1:8888),
// RUNBOOKS_CODEC_CORS_ORIGINS (comma-separated origins of the Web UI, default the dev server's UI on port 8233),
// RUNBOOKS_CODEC_AUTH_TOKEN (optional: then every POST needs `Authorization: Bearer <token>`).
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { CODEC_KEYS_ENV, EncryptionCodec } from '../worker/codec';

export const DEFAULT_CODEC_ADDRESS = '127.0.0.1:8888';
export const DEFAULT_CORS_ORIGINS = ['http://localhost:8233', 'http://127.0.0.1:8233'];
/** A history page can decode many payloads in one request; far more than that is not a UI's request. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface CodecServerOptions {
  codec: PayloadCodec;
  host?: string;
  /** 0: any free port. */
  port?: number;
  /** Origins whose pages may call the server (the Web UI's origin); `*` allows any origin (local use only). */
  corsOrigins?: string[];
  /** When set, each POST must carry `Authorization: Bearer <authToken>`. */
  authToken?: string;
  log?: (line: string) => void;
}

export interface CodecServer {
  /** http://host:port — what `--ui-codec-endpoint` and the UI's codec setting take. */
  url: string;
  close(): Promise<void>;
}

/** The JSON form of a payload in the remote codec protocol (protobuf's JSON mapping: bytes as base64). */
interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

class BadRequest extends Error {}

function fromJson(body: unknown): Payload[] {
  const payloads = (body as { payloads?: unknown } | null)?.payloads;
  if (!Array.isArray(payloads)) throw new BadRequest('the body must be {"payloads": [...]}');
  return payloads.map((p: unknown, i) => {
    if (typeof p !== 'object' || p === null) throw new BadRequest(`payloads[${i}] is not an object`);
    const { metadata = {}, data = '' } = p as JsonPayload;
    if (typeof data !== 'string') throw new BadRequest(`payloads[${i}].data must be a base64 string`);
    if (typeof metadata !== 'object' || metadata === null) {
      throw new BadRequest(`payloads[${i}].metadata must be an object of base64 strings`);
    }
    const meta: Record<string, Uint8Array> = {};
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new BadRequest(`payloads[${i}].metadata.${k} must be a base64 string`);
      meta[k] = new Uint8Array(Buffer.from(v, 'base64'));
    }
    return { metadata: meta, data: new Uint8Array(Buffer.from(data, 'base64')) };
  });
}

function toJson(payloads: Payload[]): { payloads: JsonPayload[] } {
  return {
    payloads: payloads.map((p) => ({
      metadata: Object.fromEntries(
        Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')]),
      ),
      data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
    })),
  };
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]!.trim());
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BadRequest(`the body is larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startCodecServer(opts: CodecServerOptions): Promise<CodecServer> {
  const origins = opts.corsOrigins ?? DEFAULT_CORS_ORIGINS;
  const log = opts.log ?? (() => undefined);

  const server = http.createServer((req, res) => {
    const origin = req.headers.origin;
    // CORS: the Web UI's page calls this server from its own origin. Only an allowed origin is echoed back, with
    // credentials allowed (the UI's "include cross-origin credentials" option sends cookies), so the browser lets
    // that page — and no other — read the answers.
    const allowed = origin !== undefined && (origins.includes(origin) || origins.includes('*'));
    if (allowed) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    }
    const send = (status: number, body?: unknown) => {
      if (body === undefined) return void res.writeHead(status).end();
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? '/', 'http://codec.invalid');

    if (req.method === 'OPTIONS') {
      if (!allowed) return send(403, { message: `origin ${origin ?? '(none)'} is not in RUNBOOKS_CODEC_CORS_ORIGINS` });
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      // The UI sends the namespace in X-Namespace and, when told to pass the user's access token, Authorization.
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
      res.setHeader('Access-Control-Max-Age', '600');
      return send(204);
    }
    if (req.method === 'GET' && url.pathname === '/healthz') {
      return void res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
    }
    // `/decode`, or `/<namespace>/decode` for an endpoint templated per namespace (the CLI's `{namespace}`).
    const op = /\/(decode|encode)$/.exec(url.pathname)?.[1] as 'decode' | 'encode' | undefined;
    if (!op) return send(404, { message: 'POST /encode or POST /decode' });
    if (req.method !== 'POST') return send(405, { message: `${url.pathname} takes POST` });
    if (opts.authToken !== undefined && !bearerMatches(req.headers.authorization, opts.authToken)) {
      return send(401, { message: 'missing or wrong Authorization: Bearer token' });
    }
    readBody(req)
      .then(async (text) => {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          throw new BadRequest('the body is not JSON');
        }
        const payloads = fromJson(body);
        const out = op === 'decode' ? await opts.codec.decode(payloads) : await opts.codec.encode(payloads);
        send(200, toJson(out));
      })
      .catch((err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        // Not a bad request: the codec refused (unknown key, altered payload): the caller's data, our answer 422.
        const status = err instanceof BadRequest ? 400 : 422;
        log(`codec server: ${op} from ${origin ?? req.socket.remoteAddress ?? '?'} failed (${status}): ${message}`);
        send(status, { message });
      });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** `host:port` from RUNBOOKS_CODEC_ADDRESS, with an error naming the variable. */
export function parseCodecAddress(value: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(value.trim());
  const port = Number(m?.[2]);
  if (!m || !m[1] || port > 65535) {
    throw new Error(`RUNBOOKS_CODEC_ADDRESS must be host:port (e.g. ${DEFAULT_CODEC_ADDRESS}), not "${value}"`);
  }
  return { host: m[1], port };
}

async function main(): Promise<void> {
  const codec = EncryptionCodec.fromEnv();
  if (!codec) {
    throw new Error(`${CODEC_KEYS_ENV} is not set: the codec server needs the same keys as the worker`);
  }
  const { host, port } = parseCodecAddress(process.env.RUNBOOKS_CODEC_ADDRESS || DEFAULT_CODEC_ADDRESS);
  const corsOrigins = process.env.RUNBOOKS_CODEC_CORS_ORIGINS
    ? process.env.RUNBOOKS_CODEC_CORS_ORIGINS.split(',')
        .map((o) => o.trim().replace(/\/$/, ''))
        .filter(Boolean)
    : DEFAULT_CORS_ORIGINS;
  const authToken = process.env.RUNBOOKS_CODEC_AUTH_TOKEN || undefined;
  const server = await startCodecServer({
    codec,
    host,
    port,
    corsOrigins,
    ...(authToken ? { authToken } : {}),
    log: (line) => console.error(line),
  });
  console.log(
    `codec server on ${server.url} (encrypts with key "${codec.currentKeyId}"); CORS for ${corsOrigins.join(', ')}` +
      `${authToken ? '; bearer token required' : ''}\n` +
      `  dev server: temporal server start-dev --ui-codec-endpoint ${server.url}\n` +
      `  CLI:        temporal workflow show -w <id> --codec-endpoint ${server.url}`,
  );
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void server.close().then(() => process.exit(0)));
  }
}

// Run as a script (npm run codec-server); imported (the tests), it only exports startCodecServer.
if (process.argv[1] && path.resolve(process.argv[1]) === __filename) {
  main().catch((err: unknown) => {
    console.error(`codec server failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
