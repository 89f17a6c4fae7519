// noise.ts: the RNNoise microphone pipeline for group calls (the "RNNoise" noise-suppression
// choice; docs/GROUP_CALLS.md). mic track -> MediaStreamAudioSourceNode -> AudioWorkletNode
// "rnnoise" (rnnoise_worklet.ts, RNNoise in WebAssembly) -> MediaStreamAudioDestinationNode,
// whose track groupcall.ts sends instead of the mic with RTCRtpSender.replaceTrack.
//
// The worklet module and rnnoise.wasm are files of our own origin (dist/, built by build.mjs):
// the page's CSP allows scripts from 'self' and WebAssembly compilation ('wasm-unsafe-eval')
// and nothing else. The wasm is fetched and compiled here, once per page, because the worklet
// scope cannot fetch (see rnnoise_worklet.ts).
//
// Ownership: a Denoiser owns its AudioContext and nodes and its output track, and stop()
// releases all of them; it never stops the mic track, which belongs to the call.

const WORKLET_URL = "rnnoise_worklet.js";
const WASM_URL = "rnnoise.wasm";
const READY_MS = 5000;

let compiled: Promise<WebAssembly.Module> | null = null;
const modules = new WeakMap<BaseAudioContext, Promise<void>>();

function wasmModule(): Promise<WebAssembly.Module> {
  compiled ??= WebAssembly.compileStreaming(fetch(WASM_URL, { credentials: "same-origin" }))
    .catch((e: unknown) => { compiled = null; throw e; });   // let a later try fetch again
  return compiled;
}

function workletModule(ctx: BaseAudioContext): Promise<void> {
  let p = modules.get(ctx);
  if (!p) { p = ctx.audioWorklet.addModule(WORKLET_URL); modules.set(ctx, p); }
  return p;
}

// Resolves when the processor says it has instantiated RNNoise; rejects with its error.
function ready(node: AudioWorkletNode): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("RNNoise worklet did not start")), READY_MS);
    node.port.onmessage = (e: MessageEvent) => {
      const d = e.data as { ready?: boolean; error?: string };
      if (!d.ready && !d.error) return;
      clearTimeout(timer);
      node.port.onmessage = null;
      if (d.ready) resolve(); else reject(new Error(d.error));
    };
  });
}

// An "rnnoise" worklet node in ctx (which must run at 48 kHz), ready to process: mono in,
// mono out.
export async function rnnoiseNode(ctx: BaseAudioContext): Promise<AudioWorkletNode> {
  const [module] = await Promise.all([wasmModule(), workletModule(ctx)]);
  const node = new AudioWorkletNode(ctx, "rnnoise", {
    numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1],
    channelCount: 1, channelCountMode: "explicit", channelInterpretation: "speakers",
    processorOptions: { module },
  });
  await ready(node);
  return node;
}

// TEST HOOK: web/test/rnnoise.test.mjs runs the built worklet in an OfflineAudioContext of a
// page served by parleyd (the real CSP) through the same loader.
(window as unknown as { __parleyRnnoiseNode: typeof rnnoiseNode }).__parleyRnnoiseNode = rnnoiseNode;

export class Denoiser {
  readonly output: MediaStreamTrack;

  private constructor(private ctx: AudioContext, private src: MediaStreamAudioSourceNode,
                      private node: AudioWorkletNode, dst: MediaStreamAudioDestinationNode) {
    this.output = dst.stream.getAudioTracks()[0];
  }

  // Starts denoising `mic`; the caller sends `output`. Cleans up after itself on failure.
  static async start(mic: MediaStreamTrack): Promise<Denoiser> {
    const ctx = new AudioContext({ sampleRate: 48000, latencyHint: "interactive" });
    try {
      const node = await rnnoiseNode(ctx);
      const src = ctx.createMediaStreamSource(new MediaStream([mic]));
      const dst = ctx.createMediaStreamDestination();
      dst.channelCount = 1;
      src.connect(node).connect(dst);
      if (ctx.state !== "running") await ctx.resume();
      return new Denoiser(ctx, src, node, dst);
    } catch (e) {
      void ctx.close().catch(() => {});
      throw e;
    }
  }

  stop(): void {
    this.node.port.postMessage("stop");   // frees the RNNoise state in wasm memory
    this.src.disconnect();
    this.node.disconnect();
    this.output.stop();
    void this.ctx.close().catch(() => {});
  }
}
