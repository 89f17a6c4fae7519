// call_verify.ts: the four emoji both sides of a call compare to know that nobody sits in the
// middle of their media. WebRTC encrypts media with DTLS-SRTP keyed by each browser's DTLS
// certificate, whose fingerprint travels in the SDP through parleyd; a server (or anyone who
// can rewrite signalling) that swapped the fingerprints would terminate DTLS itself, and then
// the two sides derive different emoji. The derivation is documented in docs/CALLS.md; the
// browser tests recompute it independently from the two SDPs.
//
//   input  = "parley-call-verify-v1" || 0x00 || call_id (8 bytes, big-endian)
//            || fp_lo || 0x00 || fp_hi
//   digest = SHA-256(input); emoji[i] = TABLE[digest[i]] for i = 0..3
// where fp_lo, fp_hi are the two fingerprints "<algorithm lower case> <HEX:UPPER>" from the
// local and the remote SDP's first a=fingerprint line, sorted (so both sides agree).

// 256 emoji with default emoji presentation, as five ranges of code points (see CALLS.md).
const RANGES: [number, number][] = [
  [0x1F400, 0x1F43E],  // animals, 63
  [0x1F340, 0x1F37C],  // plants and food, 61
  [0x1F380, 0x1F393],  // celebration, 20
  [0x1F3A0, 0x1F3C4],  // entertainment and sport, 37
  [0x1F3C6, 0x1F3CA],  // sport, 5
  [0x1F680, 0x1F6C5],  // transport and signs, 70
];

export const EMOJI: string[] = RANGES.flatMap(([a, b]) =>
  Array.from({ length: b - a + 1 }, (_, i) => String.fromCodePoint(a + i)));

// The first a=fingerprint of an SDP, normalised; null if there is none.
export function sdpFingerprint(sdp: string): string | null {
  const m = /^a=fingerprint:(\S+) ([0-9A-Fa-f:]+)\s*$/m.exec(sdp);
  return m ? `${m[1].toLowerCase()} ${m[2].toUpperCase()}` : null;
}

export async function verificationEmoji(callId: bigint, fpA: string, fpB: string): Promise<string[]> {
  const enc = new TextEncoder();
  const [lo, hi] = [fpA, fpB].sort();
  const id = new Uint8Array(8);
  new DataView(id.buffer).setBigUint64(0, callId);
  const parts = [enc.encode("parley-call-verify-v1"), new Uint8Array([0]), id, enc.encode(lo),
    new Uint8Array([0]), enc.encode(hi)];
  const input = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { input.set(p, off); off += p.length; }
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", input));
  return [0, 1, 2, 3].map((i) => EMOJI[d[i]]);
}
