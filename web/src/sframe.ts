// sframe.ts: SFrame (RFC 9605) for group-call media, with WebCrypto. Used by the transform
// worker (sframe_worker.ts) on every encoded audio/video frame, and by the node tests.
//
// Cipher suite AES_128_GCM_SHA256_128 (0x0004): from a sender's 16-byte base key, per KID,
//   secret = HKDF-Extract(salt = "", base_key)
//   key    = HKDF-Expand(secret, "SFrame 1.0 Secret key "  || KID (8 bytes BE) || 0x0004, 16)
//   salt   = HKDF-Expand(secret, "SFrame 1.0 Secret salt " || KID (8 bytes BE) || 0x0004, 12)
// nonce = salt XOR CTR (as 12 bytes big-endian); the tag is 16 bytes.
// Header (RFC 9605 section 4.3): one config byte |X|K K K|Y|C C C|, then KID and CTR bytes.
// A frame may keep a clear prefix (VP8's frame tag and keyframe size, which the SFU reads);
// the prefix is authenticated as metadata: AAD = header || prefix, and the output frame is
//   prefix || header || ciphertext+tag.
// Parley's KID is (participant id << 8) | (epoch & 0xff) (docs/GROUP_CALLS.md).

export const CIPHER_SUITE = 0x0004;
const TAG = 16;

export interface SframeKey { key: CryptoKey; salt: Uint8Array; }

function be(value: bigint, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = bytes - 1; i >= 0; i--) { out[i] = Number(value & 0xffn); value >>= 8n; }
  return out;
}

function minBytes(v: bigint): number {
  let n = 1;
  while (v >> BigInt(8 * n) > 0n) n++;
  return n;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

export function encodeHeader(kid: bigint, ctr: bigint): Uint8Array {
  let cfg = 0;
  const tail: Uint8Array[] = [];
  if (kid < 8n) cfg |= Number(kid) << 4;
  else { const n = minBytes(kid); cfg |= 0x80 | ((n - 1) << 4); tail.push(be(kid, n)); }
  if (ctr < 8n) cfg |= Number(ctr);
  else { const n = minBytes(ctr); cfg |= 0x08 | (n - 1); tail.push(be(ctr, n)); }
  return concat(new Uint8Array([cfg]), ...tail);
}

// Parses a header at data[0..]; null if truncated.
export function decodeHeader(data: Uint8Array): { kid: bigint; ctr: bigint; len: number } | null {
  if (data.length < 1) return null;
  const cfg = data[0];
  let off = 1;
  const field = (extended: boolean, v: number): bigint | null => {
    if (!extended) return BigInt(v);
    const n = v + 1;
    if (off + n > data.length) return null;
    let x = 0n;
    for (let i = 0; i < n; i++) x = (x << 8n) | BigInt(data[off + i]);
    off += n;
    return x;
  };
  const kid = field((cfg & 0x80) !== 0, (cfg >> 4) & 7);
  if (kid === null) return null;
  const ctr = field((cfg & 0x08) !== 0, cfg & 7);
  if (ctr === null) return null;
  return { kid, ctr, len: off };
}

async function hkdf(ikm: Uint8Array, info: Uint8Array, bytes: number): Promise<Uint8Array> {
  const base = await crypto.subtle.importKey("raw", ikm as BufferSource, "HKDF", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0),
    info: info as BufferSource }, base, bytes * 8);
  return new Uint8Array(bits);
}

export async function deriveKey(baseKey: Uint8Array, kid: bigint): Promise<SframeKey> {
  const enc = new TextEncoder();
  const suffix = concat(be(kid, 8), be(BigInt(CIPHER_SUITE), 2));
  const raw = await hkdf(baseKey, concat(enc.encode("SFrame 1.0 Secret key "), suffix), 16);
  const salt = await hkdf(baseKey, concat(enc.encode("SFrame 1.0 Secret salt "), suffix), 12);
  const key = await crypto.subtle.importKey("raw", raw as BufferSource, "AES-GCM", false, ["encrypt", "decrypt"]);
  return { key, salt };
}

function nonce(salt: Uint8Array, ctr: bigint): Uint8Array {
  const c = be(ctr, 12), n = new Uint8Array(12);
  for (let i = 0; i < 12; i++) n[i] = salt[i] ^ c[i];
  return n;
}

export async function encrypt(k: SframeKey, kid: bigint, ctr: bigint, frame: Uint8Array,
                              clear: number): Promise<Uint8Array> {
  const prefix = frame.subarray(0, Math.min(clear, frame.length));
  const header = encodeHeader(kid, ctr);
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce(k.salt, ctr) as BufferSource,
    additionalData: concat(header, prefix) as BufferSource, tagLength: TAG * 8 }, k.key,
  frame.subarray(prefix.length) as BufferSource));
  return concat(prefix, header, ct);
}

// The KID of a protected frame (to find its key) and where its header starts; null if the
// frame cannot be one.
export function peek(frame: Uint8Array, clear: number): { kid: bigint; ctr: bigint; at: number; len: number } | null {
  if (frame.length < clear + 1 + TAG) return null;
  const h = decodeHeader(frame.subarray(clear));
  if (!h || clear + h.len + TAG > frame.length) return null;
  return { kid: h.kid, ctr: h.ctr, at: clear, len: h.len };
}

// Decrypts; throws on a wrong key or a tampered frame (WebCrypto's OperationError).
export async function decrypt(k: SframeKey, frame: Uint8Array, clear: number): Promise<Uint8Array> {
  const p = peek(frame, clear);
  if (!p) throw new Error("not an SFrame frame");
  const prefix = frame.subarray(0, clear);
  const header = frame.subarray(clear, clear + p.len);
  const pt = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce(k.salt, p.ctr) as BufferSource,
    additionalData: concat(header, prefix) as BufferSource, tagLength: TAG * 8 }, k.key,
  frame.subarray(clear + p.len) as BufferSource));
  return concat(prefix, pt);
}
