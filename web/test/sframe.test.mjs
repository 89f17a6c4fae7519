// sframe.test.mjs: the SFrame module (src/sframe.ts) in node's WebCrypto, without a browser:
// header encoding against hand-computed bytes (RFC 9605 section 4.3), round trips with and
// without a clear prefix, and every way a frame must fail (wrong key, a flipped bit in the
// header, the clear prefix or the ciphertext, truncation).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "parley-sframe-"));
await esbuild.build({ entryPoints: [join(here, "..", "src", "sframe.ts")], outfile: join(dir, "sframe.mjs"),
  bundle: true, format: "esm", platform: "neutral", logLevel: "warning" });
const sf = await import(pathToFileURL(join(dir, "sframe.mjs")).href);
rmSync(dir, { recursive: true, force: true });

const hex = (b) => Buffer.from(b).toString("hex");

test("header encoding (RFC 9605 4.3)", () => {
  assert.equal(hex(sf.encodeHeader(0n, 0n)), "00");
  assert.equal(hex(sf.encodeHeader(7n, 7n)), "77");
  assert.equal(hex(sf.encodeHeader(8n, 0n)), "8008");           // X=1, 1 KID byte
  assert.equal(hex(sf.encodeHeader(0x0102n, 0x1234n)), "9901021234"); // X=1 K=1, Y=1 C=1
  assert.equal(hex(sf.encodeHeader(3n, 0x100n)), "390100");     // K=3 inline, 2 CTR bytes
  for (const [kid, ctr] of [[0n, 0n], [7n, 8n], [255n, 65535n], [(1n << 40n) + 5n, (1n << 56n) - 1n]]) {
    const h = sf.encodeHeader(kid, ctr);
    assert.deepEqual(sf.decodeHeader(h), { kid, ctr, len: h.length });
    for (let n = 0; n < h.length; n++) {
      const d = sf.decodeHeader(h.subarray(0, n));
      assert.ok(d === null || d.len <= n, "a truncated header never reads past its end");
    }
  }
});

// RFC 9605 Appendix C.1 (a selection: inline values, every length, the extremes) and the
// cipher suite 0x0004 vector of C.3 (base key, KID, CTR, metadata, plaintext, ciphertext).
const unhex = (s) => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));
const C1 = [
  [0x0n, 0x0n, "00"], [0x0n, 0x7n, "07"], [0x7n, 0x0n, "70"], [0x0n, 0x8n, "0808"],
  [0x8n, 0x0n, "8008"], [0x123n, 0x4567n, "9901234567"],
  [0x00ffffffffffffffn, 0x0n, "e0ffffffffffffff"],
  [0x00ffffffffffffffn, 0x100n, "e9ffffffffffffff0100"],
  [0x0100000000000000n, 0x0100000000000000n, "ff01000000000000000100000000000000"],
  [0xffffffffffffffffn, 0xffffffffffffffffn, "ffffffffffffffffffffffffffffffffff"],
];

test("RFC 9605 C.1 headers and the C.3 vector (suite 0x0004)", async () => {
  for (const [kid, ctr, h] of C1) {
    assert.equal(hex(sf.encodeHeader(kid, ctr)), h);
    assert.deepEqual(sf.decodeHeader(unhex(h)), { kid, ctr, len: h.length / 2 });
  }
  const k = await sf.deriveKey(unhex("000102030405060708090a0b0c0d0e0f"), 0x123n);
  assert.equal(hex(k.salt), "75234edefe07819026751816");
  const metadata = unhex("4945544620534672616d65205747"), pt = unhex("64726166742d696574662d736672616d652d656e63");
  // Our frames carry the metadata as their clear prefix: prefix || header || ciphertext.
  const frame = new Uint8Array([...metadata, ...pt]);
  const out = await sf.encrypt(k, 0x123n, 0x4567n, frame, metadata.length);
  assert.equal(hex(out.subarray(metadata.length)),
    "9901234567b7412c2513a1b66dbb48841bbaf17f598751176ad847681a69c6d0b091c07018ce4adb34eb");
  assert.deepEqual(await sf.decrypt(k, out, metadata.length), frame);
});

test("round trip, clear prefix authenticated, wrong key and tampering refused", async () => {
  const base = crypto.getRandomValues(new Uint8Array(16));
  const kid = 0x0203n;
  const k = await sf.deriveKey(base, kid);
  const frame = crypto.getRandomValues(new Uint8Array(300));
  for (const clear of [0, 3, 10]) {
    const ct = await sf.encrypt(k, kid, 42n, frame, clear);
    assert.equal(ct.length, frame.length + sf.encodeHeader(kid, 42n).length + 16);
    assert.deepEqual(ct.subarray(0, clear), frame.subarray(0, clear), "the prefix stays in the clear");
    assert.notDeepEqual(ct.subarray(clear + 3, clear + 3 + 32), frame.subarray(clear, clear + 32));
    assert.deepEqual(await sf.decrypt(k, ct, clear), frame);
    const p = sf.peek(ct, clear);
    assert.equal(p.kid, kid);
    assert.equal(p.ctr, 42n);
    for (const at of [0, clear, clear + 2, ct.length - 1]) {    // prefix, header, ciphertext, tag
      const bad = ct.slice();
      bad[at] ^= 1;
      await assert.rejects(sf.decrypt(k, bad, clear), `a flipped bit at ${at} is refused`);
    }
    await assert.rejects(sf.decrypt(k, ct.subarray(0, ct.length - 1), clear));
    await assert.rejects(sf.decrypt(k, ct.subarray(0, clear + 4), clear));
  }
  const other = await sf.deriveKey(crypto.getRandomValues(new Uint8Array(16)), kid);
  await assert.rejects(sf.decrypt(other, await sf.encrypt(k, kid, 1n, frame, 3), 3));
  // the same base key under another KID is another key
  const k2 = await sf.deriveKey(base, kid + 1n);
  await assert.rejects(sf.decrypt(k2, await sf.encrypt(k, kid, 1n, frame, 3), 3));
});
