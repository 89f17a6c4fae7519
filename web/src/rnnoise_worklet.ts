// rnnoise_worklet.ts: the AudioWorkletProcessor "rnnoise" (bundled into dist/rnnoise_worklet.js,
// loaded by noise.ts with audioWorklet.addModule). It runs RNNoise, compiled to WebAssembly
// (@echogarden/rnnoise-wasm), on the microphone on the audio thread.
//
// WHY the WebAssembly.Module comes from the main thread: an AudioWorkletGlobalScope has no
// fetch or XMLHttpRequest, so the Emscripten glue cannot load rnnoise.wasm itself. noise.ts
// fetches and compiles it (same origin, CSP 'wasm-unsafe-eval') and passes the compiled module
// in processorOptions; we instantiate it synchronously through the glue's instantiateWasm hook,
// so the denoiser is ready before the first render quantum.
//
// Framing: RNNoise takes 480-sample frames (10 ms at 48 kHz) of 16-bit-scale floats; the audio
// thread hands us 128-sample quanta in [-1, 1]. Input is scaled straight into the frame buffer
// in wasm memory; each finished frame is scaled back into an output ring. The ring starts with
// PREFILL zeros, the most a 128-quantum clock can run ahead of a 480-frame clock (128*k mod 480
// is at most 448), so output never runs dry: ~9 ms of added latency.
import RNNoise from "@echogarden/rnnoise-wasm";

// The AudioWorkletGlobalScope's names (TypeScript's DOM lib does not describe that scope).
declare const sampleRate: number;
declare function registerProcessor(name: string, ctor: unknown): void;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
  constructor(options?: unknown);
}

const FRAME = 480;
const SCALE = 32768;
const PREFILL = 448;
const RING = 2048;            // > PREFILL + FRAME + 128, a power of two for cheap wrapping

interface Glue {
  HEAPF32: Float32Array;
  _rnnoise_create(model: number): number;
  _rnnoise_destroy(st: number): void;
  _rnnoise_process_frame(st: number, out: number, inp: number): number;
  _malloc(n: number): number;
  _free(p: number): void;
}

class RnnoiseProcessor extends AudioWorkletProcessor {
  private glue: Glue | null = null;
  private st = 0;
  private inPtr = 0;
  private outPtr = 0;
  private filled = 0;                    // samples of the current frame in inPtr
  private ring = new Float32Array(RING);
  private head = 0;                      // next sample to play
  private count = PREFILL;               // samples queued in the ring (the prefill is zeros)
  private stopped = false;
  frames = 0;                            // frames denoised and RNNoise's summed voice
  vadSum = 0;                            // probability, posted on a "stats" message (diagnostics)

  constructor(options: { processorOptions?: { module?: WebAssembly.Module } }) {
    super();
    const mod = options.processorOptions?.module;
    this.port.onmessage = (e: MessageEvent) => {
      if (e.data === "stop") this.stop();
      else if (e.data === "stats") this.port.postMessage({ frames: this.frames, vad: this.frames ? this.vadSum / this.frames : 0 });
    };
    if (!(mod instanceof WebAssembly.Module) || sampleRate !== 48000) {
      this.port.postMessage({ error: mod ? `RNNoise needs 48 kHz, not ${sampleRate}` : "no wasm module" });
      return;
    }
    try {
      this.init(mod);
      this.port.postMessage({ ready: true });
    } catch (e) {
      this.port.postMessage({ error: String(e) });
    }
  }

  // The glue runs synchronously when instantiateWasm hands it an instance (nothing to await
  // outside Node), filling `m` with the exports; the promise it returns is only its echo.
  private init(mod: WebAssembly.Module): void {
    const m: Record<string, unknown> = {
      instantiateWasm: (imports: WebAssembly.Imports, done: (i: WebAssembly.Instance) => void) => {
        const inst = new WebAssembly.Instance(mod, imports);
        done(inst);
        return inst.exports;
      },
      print: () => {}, printErr: () => {},
    };
    void RNNoise(m).catch(() => {});
    const g = m as unknown as Glue;
    if (typeof g._rnnoise_create !== "function") throw new Error("the RNNoise glue did not start");
    this.st = g._rnnoise_create(0);      // 0: the built-in model
    this.inPtr = g._malloc(FRAME * 4);
    this.outPtr = g._malloc(FRAME * 4);
    if (!this.st || !this.inPtr || !this.outPtr) throw new Error("RNNoise: out of memory");
    this.glue = g;
  }

  private stop(): void {
    const g = this.glue;
    this.stopped = true;
    this.glue = null;
    if (!g) return;
    g._rnnoise_destroy(this.st);
    g._free(this.inPtr);
    g._free(this.outPtr);
  }

  // One finished frame: denoise it and queue it for output.
  private frame(g: Glue): void {
    this.vadSum += g._rnnoise_process_frame(this.st, this.outPtr, this.inPtr);
    this.frames++;
    const heap = g.HEAPF32;              // re-read: a memory growth replaces the view
    const o = this.outPtr >> 2;
    let w = (this.head + this.count) & (RING - 1);
    for (let i = 0; i < FRAME; i++, w = (w + 1) & (RING - 1)) this.ring[w] = heap[o + i] / SCALE;
    this.count += FRAME;
    this.filled = 0;
  }

  process(inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    if (this.stopped) return false;
    const g = this.glue;
    const out = outputs[0][0];
    const inp = inputs[0]?.[0];          // mono: the node's channelCount is 1, mode explicit
    if (!g) { if (inp && out) out.set(inp); return true; }   // failed to start: say so, pass through
    const n = out ? out.length : 128;
    for (let i = 0; i < n; ) {
      const take = Math.min(n - i, FRAME - this.filled);
      const heap = g.HEAPF32, at = (this.inPtr >> 2) + this.filled;
      for (let k = 0; k < take; k++) heap[at + k] = inp ? inp[i + k] * SCALE : 0;
      this.filled += take;
      i += take;
      if (this.filled === FRAME) this.frame(g);
    }
    if (out) {
      for (let i = 0; i < n; i++) {
        out[i] = this.count > 0 ? this.ring[this.head] : 0;
        if (this.count > 0) { this.head = (this.head + 1) & (RING - 1); this.count--; }
      }
    }
    return true;
  }
}

registerProcessor("rnnoise", RnnoiseProcessor);
