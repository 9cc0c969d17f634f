// The payload codec (worker/codec.ts) and the codec server (scripts/codec-server.ts) without Temporal: what is
// stored is not readable, what was stored under an older key still is, altered payloads and unknown keys fail with
// a message saying why, bad RUNBOOKS_CODEC_KEYS is refused naming the variable, and the HTTP server speaks the remote
// codec protocol with CORS for the UI's origin only.
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../client/connection';
import { startCodecServer, type CodecServer } from '../../scripts/codec-server';
import { EncryptionCodec, codecDataConverter, parseCodecKeys } from '../../worker/codec';

const key = () => randomBytes(32).toString('base64');
const K1 = key();
const K2 = key();
const SECRET = { reason: 'CANARY-unit: db password hunter2', host: 'db.internal.example' };

const codecOf = (value: string) => EncryptionCodec.fromEnv({ RUNBOOKS_CODEC_KEYS: value })!;
const toPayload = (v: unknown) => defaultPayloadConverter.toPayload(v);
const fromPayload = (p: Payload) => defaultPayloadConverter.fromPayload(p);
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString('utf8');

describe('EncryptionCodec', () => {
  it('encrypts so the stored bytes hold no clear text, and decodes back to the same value', async () => {
    const codec = codecOf(`k1:${K1}`);
    const [encoded] = await codec.encode([toPayload(SECRET)]);
    expect(text(encoded!.metadata!.encoding)).toBe('binary/encrypted');
    expect(text(encoded!.metadata!['encryption-key-id'])).toBe('k1');
    expect(text(encoded!.data)).not.toContain('CANARY');
    expect(text(encoded!.data)).not.toContain('db.internal');
    // A fresh nonce each time: the same value never encrypts to the same bytes.
    const [again] = await codec.encode([toPayload(SECRET)]);
    expect(Buffer.from(again!.data!).equals(Buffer.from(encoded!.data!))).toBe(false);
    const [decoded] = await codec.decode([encoded!]);
    expect(fromPayload(decoded!)).toEqual(SECRET);
    expect(text(decoded!.metadata!.encoding)).toBe('json/plain');
  });

  it('rotates: the first key encrypts, an older key listed after it still decrypts', async () => {
    const old = codecOf(`k1:${K1}`);
    const rotated = codecOf(`k2:${K2},k1:${K1}`);
    const [byOld] = await old.encode([toPayload('written before the rotation')]);
    const [byNew] = await rotated.encode([toPayload('written after')]);
    expect(text(byNew!.metadata!['encryption-key-id'])).toBe('k2');
    const [a, b] = await rotated.decode([byOld!, byNew!]);
    expect(fromPayload(a!)).toBe('written before the rotation');
    expect(fromPayload(b!)).toBe('written after');
  });

  it('leaves payloads that were never encrypted alone (history from before the codec was on)', async () => {
    const plain = toPayload({ reason: 'old run' });
    const [out] = await codecOf(`k1:${K1}`).decode([plain]);
    expect(fromPayload(out!)).toEqual({ reason: 'old run' });
  });

  it('detects an altered payload and a relabelled key id', async () => {
    const codec = codecOf(`k2:${K2},k1:${K1}`);
    const [encoded] = await codec.encode([toPayload(SECRET)]);
    const flipped = new Uint8Array(encoded!.data!);
    flipped[20] = flipped[20]! ^ 0x01;
    await expect(codec.decode([{ ...encoded!, data: flipped }])).rejects.toThrow(
      /did not authenticate with key "k2": it was altered/,
    );
    // The key id is authenticated too: the same bytes claimed for k1 do not decrypt.
    const relabelled = { ...encoded!, metadata: { ...encoded!.metadata, 'encryption-key-id': Buffer.from('k1') } };
    await expect(codec.decode([relabelled])).rejects.toThrow(/did not authenticate with key "k1"/);
  });

  it('fails clearly for a key it does not have', async () => {
    const [encoded] = await codecOf(`k9:${K2}`).encode([toPayload(SECRET)]);
    await expect(codecOf(`k1:${K1}`).decode([encoded!])).rejects.toThrow(
      'a payload is encrypted with key "k9", which RUNBOOKS_CODEC_KEYS does not have (it has k1)',
    );
  });
});

describe('RUNBOOKS_CODEC_KEYS', () => {
  it('is off when unset or empty, and then the worker and CLI keep the default converter', () => {
    expect(EncryptionCodec.fromEnv({})).toBeUndefined();
    expect(EncryptionCodec.fromEnv({ RUNBOOKS_CODEC_KEYS: '  ' })).toBeUndefined();
    expect(codecDataConverter({})).toBeUndefined();
    const on = codecDataConverter({ RUNBOOKS_CODEC_KEYS: `k1:${K1}` });
    expect(on?.payloadCodecs).toHaveLength(1);
    expect(on?.failureConverterPath).toMatch(/failure-converter/);
  });

  it.each([
    ['no id', K1, /RUNBOOKS_CODEC_KEYS: entry 1 of 1 is not <key id>:<base64 key>/],
    ['a short key', `k1:${randomBytes(16).toString('base64')}`, /key k1\): the key is 16 bytes; AES-256-GCM needs 32/],
    ['not base64', 'k1:not base64!', /RUNBOOKS_CODEC_KEYS: entry 1 of 1 \(key k1\): the key is not base64/],
    ['a duplicate id', `k1:${K1},k1:${K2}`, /entry 2 of 2: the key id "k1" appears twice/],
    ['a bad id', `k 1:${K1}`, /the key id "k 1" must be 1-64 letters/],
    ['an empty entry', `k1:${K1},`, /entry 2 of 2 is not <key id>:<base64 key>/],
  ])('refuses %s, naming the variable and not the key', (_what, value, message) => {
    const attempt = () => parseCodecKeys(value);
    expect(attempt).toThrow(message);
    expect(attempt).not.toThrow(K1);
  });

  it('stops the operator CLI before it connects, with a message for the user', async () => {
    const saved = process.env.RUNBOOKS_CODEC_KEYS;
    process.env.RUNBOOKS_CODEC_KEYS = 'k1:c2hvcnQ=';
    try {
      await expect(connect()).rejects.toMatchObject({
        name: 'UserError',
        message: expect.stringContaining('RUNBOOKS_CODEC_KEYS: entry 1 of 1 (key k1): the key is 5 bytes') as string,
      });
    } finally {
      if (saved === undefined) delete process.env.RUNBOOKS_CODEC_KEYS;
      else process.env.RUNBOOKS_CODEC_KEYS = saved;
    }
  });

  it('takes base64url keys too', () => {
    const url = randomBytes(32).toString('base64url');
    expect(parseCodecKeys(`k1:${url}`).keys.get('k1')).toHaveLength(32);
  });
});

describe('codec server', () => {
  const UI = 'http://127.0.0.1:8233';
  let server: CodecServer;
  const codec = codecOf(`k2:${K2},k1:${K1}`);
  beforeAll(async () => {
    server = await startCodecServer({ codec, port: 0, corsOrigins: [UI], authToken: 's3cret' });
  });
  afterAll(() => server.close());

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer s3cret', origin: UI, ...headers },
      body: JSON.stringify(body),
    });
  const asJson = (p: Payload) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    data: Buffer.from(p.data!).toString('base64'),
  });

  it('decodes what the worker encrypted, in the remote codec JSON format, for the UI origin', async () => {
    const [encoded] = await codec.encode([toPayload(SECRET)]);
    const res = await post('/decode', { payloads: [asJson(encoded!)] }, { 'x-namespace': 'default' });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    const { payloads } = (await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    expect(Buffer.from(payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('json/plain');
    expect(JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString())).toEqual(SECRET);
  });

  it('encodes for the UI (a signal typed in the UI is stored encrypted)', async () => {
    const res = await post('/encode', { payloads: [asJson(toPayload({ by: 'bob' }))] });
    const { payloads } = (await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    expect(Buffer.from(payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('binary/encrypted');
  });

  it("answers the UI's preflight, and refuses other origins", async () => {
    const preflight = (origin: string) =>
      fetch(`${server.url}/decode`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-namespace' },
      });
    const ok = await preflight(UI);
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('x-namespace');
    expect(ok.headers.get('access-control-allow-origin')).toBe(UI);
    const other = await preflight('https://evil.example');
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('wants the bearer token, and says what is wrong with a bad request or payload', async () => {
    expect((await post('/decode', { payloads: [] }, { authorization: 'Bearer nope' })).status).toBe(401);
    // Also under a namespace prefix (an endpoint templated per namespace).
    expect((await post('/default/decode', { payloads: [] })).status).toBe(200);
    const bad = await post('/decode', { nope: 1 });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ message: 'the body must be {"payloads": [...]}' });
    const [foreign] = await codecOf(`k7:${key()}`).encode([toPayload(SECRET)]);
    const unknown = await post('/decode', { payloads: [asJson(foreign!)] });
    expect(unknown.status).toBe(422);
    expect(((await unknown.json()) as { message: string }).message).toContain('key "k7"');
  });
});
