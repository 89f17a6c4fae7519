// rnnoise_wasm.d.ts: the one thing rnnoise_worklet.ts uses of @echogarden/rnnoise-wasm, which
// ships no types: its default export is the Emscripten module factory.
declare module "@echogarden/rnnoise-wasm" {
  const factory: (moduleArg: Record<string, unknown>) => Promise<unknown>;
  export default factory;
}
