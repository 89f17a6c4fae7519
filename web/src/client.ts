// client.ts: the connection to parleyd. One TLS WebSocket to /ws (subprotocol parley.v1)
// speaking proto/parley.proto: Hello, then Resume without a token (the server takes the
// session from the HttpOnly cookie), then requests and pushed updates.
//
// It reconnects by itself with backoff. Requests that were in flight when the connection
// dropped are sent again after the next Resume when they are safe to repeat (a send keeps
// its random_id, so the server returns the first message instead of storing a second);
// the others fail with "connection lost".
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import {
  ClientFrameSchema, ErrorCode, LoginRequestSchema, RegisterRequestSchema, ResponseSchema,
  ServerFrameSchema,
  type AuthResult, type CallEvent, type GroupCallEvent, type Response, type Update,
} from "./gen/parley_pb";

export type Req = NonNullable<MessageInitShape<typeof ClientFrameSchema>["request"]>;
export type Result = Response["result"];

export class ApiError extends Error {
  constructor(public code: ErrorCode, message: string, public retryAfter = 0) {
    super(message || ErrorCode[code] || "error");
  }
}

interface Pending {
  req: Req;
  retry: boolean;
  resolve: (r: Result) => void;
  reject: (e: Error) => void;
}

// Requests whose repetition changes nothing (see the file comment).
const RETRYABLE = new Set<string>([
  "sendMessage", "editMessage", "deleteMessages", "readHistory", "getChats", "getChat",
  "getHistory", "getMembers", "listSessions", "getState", "getDifference", "resolveUser",
  "openPrivateChat", "setAutoDelete", "renameChat",
]);

export interface ClientEvents {
  // Authenticated (again): pts is the account's position at the server.
  onReady(auth: AuthResult, reconnect: boolean): void;
  onUpdate(u: Update): void;
  // A call signal for this device (call.ts).
  onCall(ev: CallEvent): void;
  // A group-call change (groupcall.ts).
  onGroupCall(ev: GroupCallEvent): void;
  // The session is gone (logged out here or elsewhere, or no cookie): show the login.
  onLoggedOut(reason: string): void;
  onState(text: string): void;
}

export class Client {
  private ws: WebSocket | null = null;
  private nextId = 1n;
  private pending = new Map<bigint, Pending>();
  private queue: bigint[] = [];  // waiting for the connection to be ready
  private ready = false;
  private stopped = false;
  private backoff = 500;
  private everReady = false;
  private timer: number | undefined;

  constructor(private ev: ClientEvents) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  // Closes for good (logout); pending requests fail.
  stop(): void {
    this.stopped = true;
    this.ready = false;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close();
    this.ws = null;
    for (const [, p] of this.pending) p.reject(new Error("logged out"));
    this.pending.clear();
    this.queue = [];
  }

  get isReady(): boolean { return this.ready; }

  call(req: Req, opts: { retry?: boolean } = {}): Promise<Result> {
    const id = this.nextId++;
    return new Promise<Result>((resolve, reject) => {
      this.pending.set(id, { req, retry: opts.retry ?? RETRYABLE.has(String(req.case)), resolve, reject });
      if (this.ready) this.send(id);
      else this.queue.push(id);
    });
  }

  private send(id: bigint): void {
    const p = this.pending.get(id);
    if (!p || !this.ws) return;
    const f = create(ClientFrameSchema, { id, request: p.req });
    this.ws.send(toBinary(ClientFrameSchema, f));
  }

  // Low-level request outside the ready queue (Hello, Resume).
  private direct(req: Req): Promise<Result> {
    const id = this.nextId++;
    return new Promise<Result>((resolve, reject) => {
      this.pending.set(id, { req, retry: false, resolve, reject });
      this.send(id);
    });
  }

  private connect(): void {
    if (this.stopped) return;
    const ws = new WebSocket(`wss://${location.host}/ws`, "parley.v1");
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => { void this.handshake(ws); };
    ws.onmessage = (e) => this.onFrame(new Uint8Array(e.data as ArrayBuffer));
    ws.onclose = () => this.onClose(ws);
    ws.onerror = () => { /* onclose follows */ };
  }

  private async handshake(ws: WebSocket): Promise<void> {
    try {
      await this.direct({ case: "hello", value: { protocolVersion: 1, client: "parley-web/0.1" } });
      const r = await this.direct({ case: "resume", value: {} });
      if (r.case !== "auth" || ws !== this.ws) return;
      this.backoff = 500;
      this.ready = true;
      const again = this.everReady;
      this.everReady = true;
      this.ev.onState("");
      this.ev.onReady(r.value, again);
      const q = this.queue;
      this.queue = [];
      for (const id of q) this.send(id);
    } catch (e) {
      // No cookie (BAD_REQUEST): log in. SESSION_TERMINATED: the cookie names no live
      // session (ended here or elsewhere, or never issued: the server cannot tell): log in
      // again. Anything else (BUSY, connection trouble): close, and the close handler
      // reconnects with backoff.
      if (e instanceof ApiError && (e.code === ErrorCode.SESSION_TERMINATED ||
          e.code === ErrorCode.BAD_REQUEST)) {
        this.stop();
        this.ev.onLoggedOut(e.code === ErrorCode.SESSION_TERMINATED
          ? "Your session has ended. Log in again." : "");
      } else if (ws === this.ws) {
        ws.close();
      }
    }
  }

  private onFrame(bytes: Uint8Array): void {
    let f;
    try {
      f = fromBinary(ServerFrameSchema, bytes);
    } catch {
      return;
    }
    if (f.frame.case === "response") {
      const r = f.frame.value;
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.error && r.error.code !== ErrorCode.OK) {
        p.reject(new ApiError(r.error.code, r.error.message, r.error.retryAfter));
      } else {
        p.resolve(r.result);
      }
    } else if (f.frame.case === "update") {
      if (this.ready) this.ev.onUpdate(f.frame.value);
    } else if (f.frame.case === "call") {
      if (this.ready) this.ev.onCall(f.frame.value);
    } else if (f.frame.case === "groupCall") {
      if (this.ready) this.ev.onGroupCall(f.frame.value);
    } else if (f.frame.case === "goodbye") {
      const g = f.frame.value;
      if (g.code === ErrorCode.SESSION_TERMINATED) {
        this.stop();
        this.ev.onLoggedOut("This session was ended.");
      }
    }
  }

  private onClose(ws: WebSocket): void {
    if (ws !== this.ws) return;
    this.ws = null;
    this.ready = false;
    // Repeat what is safe to repeat; fail the rest.
    for (const [id, p] of this.pending) {
      if (p.retry) {
        this.queue.push(id);
      } else {
        this.pending.delete(id);
        p.reject(new ApiError(ErrorCode.INTERNAL, "connection lost"));
      }
    }
    this.queue.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (this.stopped) return;
    this.ev.onState("Connection lost, reconnecting…");
    this.timer = window.setTimeout(() => this.connect(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, 8000);
  }
}

// Register / log in / log out: HTTP, so that the session token goes into an HttpOnly
// cookie. Bodies are the protocol's own RegisterRequest / LoginRequest; the answer is a
// Response.

export async function webAuth(kind: "register" | "login", username: string, password: string,
                              device: string, invite = ""): Promise<AuthResult> {
  const body = kind === "register"
    ? toBinary(RegisterRequestSchema,
      create(RegisterRequestSchema, { username, password, device, invite }))
    : toBinary(LoginRequestSchema, create(LoginRequestSchema, { username, password, device }));
  const res = await fetch(`/api/${kind}`, {
    method: "POST", body, credentials: "same-origin",
    headers: { "Content-Type": "application/x-protobuf" },
  });
  const r = fromBinary(ResponseSchema, new Uint8Array(await res.arrayBuffer()));
  if (r.error && r.error.code !== ErrorCode.OK) {
    throw new ApiError(r.error.code, r.error.message, r.error.retryAfter);
  }
  if (r.result.case !== "auth") throw new Error("unexpected answer");
  return r.result.value;
}

export async function webLogout(): Promise<void> {
  await fetch("/api/logout", { method: "POST", credentials: "same-origin" });
}
