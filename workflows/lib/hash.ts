// A short deterministic fingerprint for names the workflows make (temporary instances and databases): no Node crypto
// in the workflow sandbox.

/** FNV-1a, 32 bits, as 8 hex digits. */
export function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}
