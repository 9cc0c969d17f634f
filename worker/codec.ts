// The payload codec: AES-256-GCM encryption of every payload the worker and the clients send to Temporal (inputs,
// results, activity inputs and outputs, signals, queries, user metadata, and — with the failure converter in
// worker/failure-converter.ts — error messages and stack traces), so the server's history holds no clear text of
// hosts, saved DNS records or reasons. Off unless RUNBOOKS_CODEC_KEYS is set (docs/encryption.md).
//
// Node-only (node:crypto): the worker's main thread, the CLI and the codec server use it, never workflow code — the
// SDK runs codecs outside the workflow sandbox, on payloads the sandbox has already converted.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

/** The environment variable with the keys: `<id>:<base64 key>[,<id>:<base64 key>…]`, the first one encrypts. */
export const CODEC_KEYS_ENV = 'RUNBOOKS_CODEC_KEYS';

/** Metadata `encoding` of an encrypted payload (the name Temporal's samples use, which its tools recognise). */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata key naming the key a payload was encrypted with (so a rotated-out key is still found). */
export const KEY_ID_METADATA = 'encryption-key-id';

const KEY_BYTES = 32; // AES-256
const NONCE_BYTES = 12; // GCM's standard nonce: random per payload, never reused with one key in practice
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export interface CodecKeys {
  /** The key new payloads are encrypted with (the first in the list). */
  current: string;
  /** Every key, by ID: the current one and the older ones that still decrypt what they encrypted. */
  keys: Map<string, Buffer>;
}

/**
 * Parse RUNBOOKS_CODEC_KEYS. Every error names the variable and the entry, never the key material.
 * Rotation: put the new key first and keep the old ones after it until no run that needs them is left.
 */
export function parseCodecKeys(value: string, name = CODEC_KEYS_ENV): CodecKeys {
  const keys = new Map<string, Buffer>();
  const entries = value.split(',').map((e) => e.trim());
  entries.forEach((entry, i) => {
    const where = `${name}: entry ${i + 1} of ${entries.length}`;
    const colon = entry.indexOf(':');
    if (colon < 0) {
      throw new Error(
        `${where} is not <key id>:<base64 key> (e.g. k1:$(openssl rand -base64 32)); separate keys with commas`,
      );
    }
    const id = entry.slice(0, colon).trim();
    const material = entry.slice(colon + 1).trim();
    if (!KEY_ID.test(id)) {
      throw new Error(`${where}: the key id "${id}" must be 1-64 letters, digits, '.', '_' or '-'`);
    }
    if (keys.has(id)) throw new Error(`${where}: the key id "${id}" appears twice; each key needs an id of its own`);
    if (!BASE64.test(material)) throw new Error(`${where} (key ${id}): the key is not base64`);
    const key = Buffer.from(material, material.includes('-') || material.includes('_') ? 'base64url' : 'base64');
    if (key.length !== KEY_BYTES) {
      throw new Error(
        `${where} (key ${id}): the key is ${key.length} bytes; AES-256-GCM needs ${KEY_BYTES} (make one with: openssl rand -base64 32)`,
      );
    }
    keys.set(id, key);
  });
  return { current: entries[0]!.slice(0, entries[0]!.indexOf(':')).trim(), keys };
}

export class EncryptionCodec implements PayloadCodec {
  constructor(private readonly config: CodecKeys) {}

  /** The codec RUNBOOKS_CODEC_KEYS configures, or undefined when it is unset or empty (the codec is off). */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): EncryptionCodec | undefined {
    const value = env[CODEC_KEYS_ENV]?.trim();
    return value ? new EncryptionCodec(parseCodecKeys(value)) : undefined;
  }

  get currentKeyId(): string {
    return this.config.current;
  }

  // The whole payload (its metadata too: the `encoding` says what the data is) is serialised and encrypted, so the
  // decoded payload is exactly the one that was encoded. The key id is authenticated as associated data: a payload
  // relabelled with another key id fails to decrypt rather than being read with the wrong key.
  async encode(payloads: Payload[]): Promise<Payload[]> {
    const id = this.config.current;
    const key = this.config.keys.get(id)!;
    return payloads.map((payload) => {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      cipher.setAAD(utf8.encode(id));
      const clear = temporal.api.common.v1.Payload.encode(payload).finish();
      const sealed = Buffer.concat([nonce, cipher.update(clear), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { encoding: utf8.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8.encode(id) },
        data: new Uint8Array(sealed),
      };
    });
  }

  // async: a payload that does not decrypt rejects the returned promise rather than throwing at the call.
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.decodeOne(payload));
  }

  private decodeOne(payload: Payload): Payload {
    const encoding = payload.metadata?.encoding;
    // Payloads written before the codec was turned on (or by a client without it) stay readable as they are.
    if (!encoding || fromUtf8.decode(encoding) !== ENCRYPTED_ENCODING) return payload;
    const rawId = payload.metadata?.[KEY_ID_METADATA];
    if (!rawId) throw new Error(`an encrypted payload has no ${KEY_ID_METADATA} in its metadata; cannot decrypt it`);
    const id = fromUtf8.decode(rawId);
    const key = this.config.keys.get(id);
    if (!key) {
      throw new Error(
        `a payload is encrypted with key "${id}", which ${CODEC_KEYS_ENV} does not have (it has ${[...this.config.keys.keys()].join(', ')}); ` +
          'add the old key after the current one to read it',
      );
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < NONCE_BYTES + TAG_BYTES) {
      throw new Error(`an encrypted payload (key "${id}") is too short to be one: ${data.length} bytes`);
    }
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE_BYTES));
    decipher.setAAD(rawId);
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let clear: Buffer;
    try {
      clear = Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new Error(
        `an encrypted payload did not authenticate with key "${id}": it was altered, or ${CODEC_KEYS_ENV} holds another key under that id`,
      );
    }
    const decoded = temporal.api.common.v1.Payload.decode(clear);
    return { metadata: decoded.metadata, data: decoded.data };
  }
}

/**
 * The data converter of a worker or client when RUNBOOKS_CODEC_KEYS is set: the codec, and the failure converter that
 * moves error messages and stack traces into an (encrypted) payload. Undefined when the codec is off.
 */
export function codecDataConverter(env: NodeJS.ProcessEnv = process.env): DataConverter | undefined {
  const codec = EncryptionCodec.fromEnv(env);
  if (!codec) return undefined;
  return { payloadCodecs: [codec], failureConverterPath: FAILURE_CONVERTER_PATH };
}

/**
 * The module exporting `failureConverter` (worker/failure-converter.ts, or .js once compiled). A worker that bundles
 * its workflows at start builds it into the bundle; a prebuilt bundle must have been built with it (see
 * docs/encryption.md), otherwise a run's own failure message stays in clear.
 */
export const FAILURE_CONVERTER_PATH = ['.js', '.ts']
  .map((ext) => path.join(__dirname, `failure-converter${ext}`))
  .find((file) => existsSync(file))!;
