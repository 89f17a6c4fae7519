// device_identity.ts: this browser device's long-term identity key, the pins of other
// devices' identity keys, and the safety number people compare (docs/GROUP_CALLS.md,
// section 2, "Identity keys").
//
// The identity key is an Ed25519 key pair made once per account in this browser profile
// (WebCrypto, private half non-extractable: script can use it but never read it out), kept
// in IndexedDB and registered with parleyd for the current device (session) with
// RegisterDeviceKey; parleyd binds it once and refuses another key for that device. It signs
// each group call's per-call X25519 key (signedMessage below).
//
// Pins: the first identity key seen for a (user, device) is remembered (trust on first use);
// a later different key for the same device is reported as "changed", never silently taken.
// A pin becomes "verified" when the user says the safety numbers matched.
//
// Safety number: SHA-256("parley-device-fp-v1" || user_id(8) || device_id(8) || identity
// key(32)), its first 16 bytes (128 bits) as 8 groups of 5 decimal digits (each group one
// big-endian 16-bit value, 00000-65535). Both people read the same number for one device: the
// owner on its own screen, the other on the participant's details.
//
// Ownership: a DeviceIdentity holds its CryptoKey; the IndexedDB connection is opened per
// operation and closed again.
import { type Client } from "./client";
import { cat, u64 } from "./gc_e2ee";

const DB = "parley-device";
const KEYS = "identity";
const PINS = "pins";
const enc = new TextEncoder();

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(DB, 1);
    r.onupgradeneeded = () => { r.result.createObjectStore(KEYS); r.result.createObjectStore(PINS); };
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

async function idb<T>(store: string, mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const r = f(db.transaction(store, mode).objectStore(store));
      r.onsuccess = () => resolve(r.result as T);
      r.onerror = () => reject(r.error);
    });
  } finally { db.close(); }
}

// What a call key's signature covers: the domain, the call, the signer's user and device,
// and the key. parleyd checks the same bytes (req_groupcall.c, sign_verify).
export function signedMessage(callId: bigint, userId: bigint, deviceId: bigint, callKey: Uint8Array): Uint8Array {
  return cat(enc.encode("parley-gc-callkey-v1"), u64(callId), u64(userId), u64(deviceId), callKey);
}

export async function verifySignature(identityKey: Uint8Array, sig: Uint8Array, msg: Uint8Array): Promise<boolean> {
  if (identityKey.length !== 32 || sig.length !== 64) return false;
  try {
    const k = await crypto.subtle.importKey("raw", identityKey as BufferSource, { name: "Ed25519" }, false, ["verify"]);
    return await crypto.subtle.verify({ name: "Ed25519" }, k, sig as BufferSource, msg as BufferSource);
  } catch { return false; }
}

export async function safetyNumber(userId: bigint, deviceId: bigint, identityKey: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256",
    cat(enc.encode("parley-device-fp-v1"), u64(userId), u64(deviceId), identityKey) as BufferSource));
  const v = new DataView(d.buffer);
  return Array.from({ length: 8 }, (_, i) => String(v.getUint16(2 * i)).padStart(5, "0")).join(" ");
}

export type Pin = { key: Uint8Array; verified: boolean };
export type PinCheck = "new" | "pinned" | "verified" | "changed";

// Pins of other devices' identity keys, per account of this browser (`owner`).
export class Pins {
  constructor(private owner: bigint) {}
  private id(user: bigint, device: bigint): string { return `${this.owner}:${user}:${device}`; }

  async get(user: bigint, device: bigint): Promise<Pin | undefined> {
    return idb<Pin | undefined>(PINS, "readonly", (s) => s.get(this.id(user, device)));
  }
  async set(user: bigint, device: bigint, pin: Pin): Promise<void> {
    await idb(PINS, "readwrite", (s) => s.put(pin, this.id(user, device)));
  }
  // First use pins the key; the same key again reports how it was pinned; another key is
  // "changed" and leaves the pin as it was.
  async check(user: bigint, device: bigint, key: Uint8Array): Promise<PinCheck> {
    const p = await this.get(user, device);
    if (!p) { await this.set(user, device, { key, verified: false }); return "new"; }
    if (!same(p.key, key)) return "changed";
    return p.verified ? "verified" : "pinned";
  }
}

export class DeviceIdentity {
  private constructor(private priv: CryptoKey, readonly publicKey: Uint8Array,
                      readonly userId: bigint, readonly deviceId: bigint) {}

  // This account's key in this browser (made on first use), registered for the current
  // device. Throws the server's IDENTITY_KEY_CHANGED when this device holds another key
  // (e.g. the browser's storage was cleared since the login): a new login fixes it.
  static async load(client: Client, userId: bigint): Promise<DeviceIdentity> {
    const id = `key:${userId}`;
    let rec = await idb<{ priv: CryptoKey; pub: Uint8Array } | undefined>(KEYS, "readonly", (s) => s.get(id));
    if (!rec) {
      const kp = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]) as CryptoKeyPair;
      rec = { priv: kp.privateKey, pub: new Uint8Array(await crypto.subtle.exportKey("raw", kp.publicKey)) };
      await idb(KEYS, "readwrite", (s) => s.put(rec, id));
    }
    const r = await client.call({ case: "registerDeviceKey", value: { identityKey: rec.pub } } as never, { retry: false });
    const v = r.value as { deviceId: bigint; userId: bigint };
    return new DeviceIdentity(rec.priv, rec.pub, v.userId, v.deviceId);
  }

  async sign(msg: Uint8Array): Promise<Uint8Array> {
    return new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, this.priv, msg as BufferSource));
  }
}
