/**
 * burn-edge: Burn models compiled to WebAssembly, loaded from a CDN with verification and an
 * offline cache, run on WebGPU or the CPU in a Web Worker.
 */

/** Any image a page has: decoded at full size by the package. */
export type ImageSource =
  | ImageData
  | ImageBitmap
  | HTMLImageElement
  | HTMLCanvasElement
  | OffscreenCanvas
  | Blob
  | { data: Uint8Array | Uint8ClampedArray; width: number; height: number };

/** Byte-level download progress of one model file; `loaded` only rises, up to `total`. */
export interface Progress {
  /** The file's path as the manifest lists it. */
  file: string;
  loaded: number;
  /** The file's size from the manifest. */
  total: number;
}

export interface LoadOptions {
  /** URL of the model's `channel.json`; the alias picks the version. One of channelUrl/manifestUrl is required. */
  channelUrl?: string;
  /** URL of one version's `manifest.json`, bypassing the channel. */
  manifestUrl?: string;
  /** Channel alias to load. Default `'stable'`. */
  alias?: string;
  /** Alternative model-folder URLs (replacing the primary folder's prefix), tried in order after it. */
  mirrors?: string[];
  /**
   * Default `'auto'`: where a WebGPU adapter exists, both builds warm up (a few timed runs each,
   * within a budget) and the faster one serves (`info().backendChoice`); the choice is
   * remembered per device and model version. Without an adapter: the CPU.
   */
  backend?: 'auto' | 'webgpu' | 'cpu';
  /**
   * Where predictions run. `'edge'` (default): in the browser. `'cloud'`: on the server
   * (`cloud.url`'s `POST /v1/predict/<model>@<version>`). `'auto'`: the cloud while the weights
   * download and the session warms up, then the edge; the cloud again when the edge's warm-up
   * is over `cloudBudgetMs` or it runs out of memory; the edge when the cloud is unreachable.
   */
  route?: 'auto' | 'edge' | 'cloud';
  /** The server for `route: 'cloud' | 'auto'`: its base URL and an ingest key. */
  cloud?: { url: string; key?: string };
  /** With `route: 'auto'`: an edge whose warm-up prediction takes longer (ms) leaves predictions to the cloud. Default 1000. */
  cloudBudgetMs?: number;
  /**
   * Which weights variant (`burn-edge compress`: `f32`, `int8`, `f16`) to download, among those
   * this device can run (a variant's `requires`, e.g. `relaxed-simd`): `'accurate'` (default)
   * the highest held-out accuracy, `'smallest'` the fewest bytes, `'fastest'` the soonest ready
   * (today the smallest: every variant computes in f32). Only the chosen file is fetched;
   * `info().variant` says which. A manifest with one weights file serves it whatever this says.
   */
  prefer?: 'smallest' | 'fastest' | 'accurate';
  /** This weights variant and no other: refused (`code: 'NO_VARIANT'`) when the manifest lacks it or the device cannot run it. */
  variant?: string;
  /**
   * URL of the folder holding the `cpu/` and `webgpu/` wasm modules (a CDN), verified against the
   * package's pins. Only the wasm moves: the JS glue always comes from the package. Default: the package's `pkg/`.
   */
  runtimeBase?: string | URL;
  /** Verified versions of this model kept in the cache (most recently used). Default 2. */
  keepVersions?: number;
  /** Retry rounds over the mirrors after the first. Default 3. */
  retries?: number;
  /** Base delay of the exponential backoff, in ms (jittered). Default 250. */
  retryDelay?: number;
  /**
   * A CDN request that receives nothing (no answer, no body bytes) for this many ms is abandoned
   * and the next mirror tried, so a CDN that hangs cannot hang the load. Default 20000.
   */
  stallTimeout?: number;
  onProgress?: (progress: Progress) => void;
  /** Run inference in a module Web Worker. Default true. */
  worker?: boolean;
  /**
   * Record the load, backend fallbacks, failures and each prediction as OTLP logs: options for
   * `createTelemetry`, or a client it returned (to share one across models).
   */
  telemetry?: TelemetryOptions | Telemetry;
  /**
   * The publisher's Ed25519 public key: the base64 string `burn-edge keygen` printed (raw 32
   * bytes), or a CryptoKey. With it the channel and the manifest must carry a valid signature by
   * this key (`.sig` beside each) or the load fails with `IntegrityError` before any weight is
   * fetched (a previously verified version keeps serving, `info().fallback`). Without it only the
   * weights' hashes are checked, `info().signed` is false and `info().warnings` says so.
   */
  publicKey?: string | CryptoKey;
  /** The rollout unit (hashed into buckets). Default: the anonymous install id (localStorage `burn-edge.install-id`). */
  id?: string;
  /** Page attributes rollout rules target (`condition`) or hash (`hashAttribute`). */
  attributes?: Record<string, unknown>;
  /** Developer pin: serve this published version whatever the channel says (also `?burn-edge-pin=1.1.0` or `mnist@1.1.0` in the page URL). */
  pin?: string;
  /** Re-check the channel every this many ms (and when the page becomes visible); 0: only on `recheck()`. Default 60000. */
  recheckInterval?: number;
  /** Run the channel's shadow challenger beside the served version. Default true. */
  shadow?: boolean;
}

/** Which version serves this page, and why (the select stage). */
export interface Assignment {
  version: string;
  alias: string;
  /** The rollout rule's key; null when the alias served plainly. */
  rule: string | null;
  kind: 'rollout' | 'experiment' | 'alias' | 'pin' | 'kill';
  arm: string | null;
  /** The unit's hash in [0, 1) for the rule. */
  bucket: number | null;
  bucketVersion: number | null;
}

/** A hot swap done: `swapMs` from the new assignment seen to the new version serving. */
export interface SwapDetail {
  from: string;
  to: string;
  reason: 'channel' | 'kill' | 'pin' | string;
  swapMs: number;
  at: string;
  assignment: Assignment;
}

/** A re-check that did not swap: the channel was refused or the new version failed to prepare. */
export interface SwapFailedDetail {
  from: string;
  to: string | null;
  reason: string;
  message: string;
}

/** Options of `createTelemetry`. */
export interface TelemetryOptions {
  /**
   * Collector base URL (batches go to `{endpoint}/v1/logs`), or its full `.../v1/logs` URL; relative to the page.
   * Several (an array, or `endpoints`): a batch goes to the first that takes it, see `retryPrimaryMs`.
   * One of `endpoint` and `endpoints` is needed: without any, the client is disabled.
   */
  endpoint?: string | URL | Array<string | URL>;
  /** More collectors (after `endpoint`'s), tried in order when one fails (network error, timeout, 5xx). */
  endpoints?: Array<string | URL>;
  /** Ingest key (sent in the query and as `x-burn-edge-key`). */
  key?: string;
  /** `burn_edge.app` resource attribute. Default `'unknown'`. */
  app?: string;
  /** Fraction of pages that send anything (decided once per page). Default 1. */
  sampleRate?: number;
  /** Send and store nothing. Default false. */
  optOut?: boolean;
  /** Send and store nothing when `navigator.globalPrivacyControl` is true. Default true. */
  honorGlobalPrivacyControl?: boolean;
  /** Records per request. Default 50. */
  batchSize?: number;
  /** Longest time a record waits in memory before it is sent, in ms. Default 5000. */
  flushIntervalMs?: number;
  /** Most records kept in the offline queue (IndexedDB); the oldest go first. Default 1000. */
  maxQueue?: number;
  /** `burn_edge.runtime.version` until a loaded model says it. */
  runtimeVersion?: string;
  /** Base delay of the retry backoff, in ms (exponential, jittered; `Retry-After` wins). Default 1000. */
  retryDelayMs?: number;
  /** Time for a collector to answer a batch before it counts as failed, in ms. Default 10000. */
  timeoutMs?: number;
  /** With several collectors: while a later one is in use, how often the first is tried again, in ms. Default 60000. */
  retryPrimaryMs?: number;
}

/** Attribute values of a telemetry event, by key of `telemetry.events.json`. */
export type TelemetryAttributes = Record<string, string | number | boolean | null | undefined>;

/** A telemetry client: never throws, never delays a prediction. */
export interface Telemetry {
  /** Queues one event (synchronous; sending is batched and asynchronous). Unknown events are dropped. */
  record(eventName: string, attributes?: TelemetryAttributes): void;
  /** Sends what is buffered and what is due in the offline queue. */
  flush(): Promise<void>;
  /** Records `burn_edge.feedback`: the true label of a prediction. */
  feedback(predictionId: string, trueLabel: number): void;
  /** Model attributes added to later events. */
  setModel(model: { name?: string; version?: string; variant?: string; role?: string; backend?: string; runtimeVersion?: string;
    alias?: string | null; rule?: string | null; arm?: string | null }): void;
  /** False when opted out, under Global Privacy Control, or sampled out. */
  readonly enabled: boolean;
  /** Random anonymous id kept in localStorage (`burn-edge.install-id`); null when disabled. */
  readonly installId: string | null;
  /** Stops listening to page lifecycle events and flushes. */
  shutdown(): Promise<void>;
}

export function createTelemetry(options: TelemetryOptions): Telemetry;

export interface FileInfo {
  path: string;
  role: string;
  /** Weights variant (`f32`, `int8`, `f16`, ...). */
  variant?: string;
  sha256: string;
  size: number;
  source: 'network' | 'cache';
  /** The mirror URL it came from, or `'cache'`. */
  url: string;
}

export interface ModelInfo {
  /** Backend that runs the model; `'cloud'` while only the server answers (a cloud route, the edge not ready). */
  backend: 'webgpu' | 'cpu' | 'cloud';
  adapter: Record<string, unknown> | null;
  skipped: { backend: string; reason: string }[];
  /** CPU kernels: `'burn-edge'` (this runtime's own, through the network's compiled plan) or Burn's (`'flex'`). */
  cpuKernels: string;
  /** On the CPU with burn-edge's kernels: the compiled plan (steps on the kernels, operations fused into them, operations left to Burn, bytes of weights it holds). */
  plan: { kernelSteps: number; fused: number; burnOps: string[]; weightBytes: number } | null;
  /** Why the network runs on Burn's CPU kernels although burn-edge's were asked for. */
  planError: string | null;
  /** The runtime's wasm memory in bytes when the session was created, and when the session was loaded (see `Model.memory()` for now). */
  memory: { afterCreation: number | null; now: number | null };
  /** `'relaxed'` when the CPU module uses relaxed SIMD's fused multiply-add, else `'baseline'`. */
  cpuSimd: 'relaxed' | 'baseline';
  runtimeVersion: string;
  parameters: number;
  /** True when inference runs in a Web Worker. */
  worker: boolean;
  /**
   * How often the worker crashed and was replaced (session re-created, the requests it held
   * retried once); after more than 3 crashes within a minute calls reject with `'WORKER_CRASHED'`.
   */
  workerRestarts: number;
  /** Global scope the session runs in: `'DedicatedWorkerGlobalScope'` or `'Window'`. */
  thread: string;
  model: string;
  version: string;
  architecture: string;
  /** The version's input schema from its (verified) manifest: shape, dtype and the image preprocessing if any. */
  input: { shape: number[]; dtype: string; preprocessing?: { color?: string; fit?: string; range?: [number, number] } | null } | null;
  alias?: string;
  /** The weights variant loaded (`LoadOptions.prefer`, `variant`): the only weights file of the manifest fetched. */
  variant: string | null;
  /** `'network'` when any model file was downloaded this time, `'cache'` when none was. */
  source: 'network' | 'cache';
  /** True when the channel or manifest was unreachable and the last verified version serves. */
  offline: boolean;
  offlineReason?: string;
  /** Set when the wanted version failed (integrity, network) and a previously verified one serves. */
  fallback: { reason: string; message: string; wanted: string } | null;
  /** True when a `publicKey` was pinned and the channel and manifest verified against it. */
  signed: boolean;
  /** First 16 hex digits of SHA-256 of the pinned key; null without a key (or a non-extractable CryptoKey). */
  keyId: string | null;
  channelUrl?: string;
  manifestUrl: string;
  served: { channel?: string; manifest: string };
  files: FileInfo[];
  /** `source`: where the wasm came from; `url`: the glue imported (the package's own). */
  runtime: { build: 'cpu' | 'webgpu'; source: 'network' | 'cache'; url: string; version: string };
  storage: { persisted: boolean; quota?: number; usage?: number };
  /** Versions evicted from the cache by this load. */
  evicted: string[];
  warnings: string[];
  loadMs: number;
  /** Null for a load by manifestUrl. */
  assignment: Assignment | null;
  /** Hot swaps this handle made, oldest first. */
  swaps: Omit<SwapDetail, 'assignment'>[];
  /** Why the last re-check kept the old version (a refused channel, a failed preparation); null after a good one. */
  rolloutError: { code: string; message: string; at: string } | null;
  shadow: { version: string; sampleRate: number; ready: boolean; error: string | null; runs: number; failures: number; skipped: number } | null;
  interleave: { rule: string; arms: { name: string; version: string }[] } | null;
  /** With `backend: 'auto'` where WebGPU exists: which build serves, why, each one's warm-up (median ms; null: it failed). */
  backendChoice?: BackendChoice | null;
  /** Set when the WebGPU device was lost (or its session trapped) and inference moved to the CPU build. */
  deviceLost?: { at: string; reason: string; replayed: number } | null;
  /** Where predictions go now, and why. */
  route?: { mode: 'auto' | 'edge' | 'cloud'; current: 'edge' | 'cloud'; reason: string };
  [key: string]: unknown;
}

/** The backend chosen by measurement (`backend: 'auto'`). */
export interface BackendChoice {
  chosen: 'webgpu' | 'cpu';
  reason: string;
  /** Median warm-up prediction per build, in ms; null where that build could not run. */
  timings: { cpu: number | null; webgpu: number | null };
  /** True when the choice was remembered from an earlier load on this device (nothing was measured). */
  cached: boolean;
}

/** Progress of `predictBatch`: examples answered so far, of `total`. */
export interface BatchProgress {
  done: number;
  total: number;
}

export interface BatchOptions {
  /** Called after each chunk. */
  onProgress?: (progress: BatchProgress) => void;
  /** Aborting rejects with an `AbortError` at once; no further chunk is sent. */
  signal?: AbortSignal;
  /** Examples per round trip (one `predict` call, or one request to the cloud). Default 32. */
  chunkSize?: number;
}

/** One item of an interleaved list and the arm that contributed it. */
export interface InterleavedItem {
  index: number;
  label: string;
  probability: number;
  arm: string;
}

export interface Model extends EventTarget {
  addEventListener(type: 'swap', listener: (event: CustomEvent<SwapDetail>) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: 'swapfailed', listener: (event: CustomEvent<SwapFailedDetail>) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  /** Re-checks the channel now; resolves once any swap it caused is done. */
  recheck(): Promise<void>;
  /** A top-k list from both arms of the channel's interleave rule (team draft); rejects with `NO_INTERLEAVE` without one. */
  interleave(input: Float32Array, k?: number, options?: { seed?: string }): Promise<InterleavedItem[]>;
  /** Class probabilities (`n * classes`) for `n` inputs in one array. */
  predict(input: Float32Array): Promise<Float32Array>;
  /**
   * Probabilities for many inputs (an array of inputs, or one Float32Array of `n` inputs), one
   * array per input, computed in chunks with progress, cancellable.
   */
  predictBatch(inputs: Float32Array[] | Float32Array, options?: BatchOptions): Promise<Float32Array[]>;
  /** Model input from RGBA pixels of any size (e.g. `ImageData.data`). */
  prepareDigit(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): Promise<Float32Array>;
  /** Class names from the manifest, index = output position. */
  readonly labels: string[];
  /** Model input from any image at full size; resized, cropped and channel-ordered per the manifest's input schema. */
  prepareImage(source: ImageSource): Promise<Float32Array>;
  /** The `top` (default 5) most likely labels for one image, best first. */
  classifyImage(source: ImageSource, options?: { top?: number }): Promise<{ index: number; label: string; probability: number }[]>;
  info(): ModelInfo;
  /** The runtime's wasm memory in bytes now and right after the session was created (null outside wasm). */
  memory(): Promise<{ afterCreation: number | null; now: number | null }>;
  /** Frees the session and stops the worker; later calls reject with code `'DISPOSED'`. */
  dispose(): void;
  /** Id of the last prediction recorded by telemetry, for `feedback`; null without telemetry. */
  readonly lastPredictionId: string | null;
  /** Records the true label of a prediction (telemetry `burn_edge.feedback`); a no-op without telemetry. */
  feedback(predictionId: string, trueLabel: number): void;
  /** Credits the arm that contributed the picked item of the last interleaved list (`burn_edge.interleave`); returns it. */
  feedback(pick: { picked: number }): string | null;
}

export function loadModel(options: LoadOptions): Promise<Model>;

export class BurnEdgeError extends Error {
  constructor(message: string, options?: { code?: string; cause?: unknown });
  /** `'INTEGRITY'`, `'NETWORK'`, `'UNSUPPORTED_ARCHITECTURE'`, `'QUOTA'`, `'DISPOSED'`, `'INVALID_MANIFEST'`, `'NO_VARIANT'`, `'WORKER_CRASHED'`, ... */
  code: string;
}

/**
 * Something the CDN sent is not what the publisher released (a file's hash or size, a channel's
 * or manifest's signature, a runtime file's pinned hash, a URL outside the model folder, a body
 * longer than expected). The bytes were not used or cached.
 */
export class IntegrityError extends BurnEdgeError {
  constructor(details:
    | { file: string; url: string; expected: string; actual: string; size: number; expectedSize: number }
    | { file: string; url: string; reason: string });
  code: 'INTEGRITY';
  file: string;
  url: string;
  /** The expected SHA-256, when it was a hash mismatch. */
  expected?: string;
  actual?: string;
  /** Why, when it was not a hash mismatch (e.g. "the channel is unsigned ..."). */
  reason?: string;
  /** The model version that was wanted, when known (a refused manifest). */
  wanted?: string;
}

/** The channel's rollout section is invalid; nothing in it was used and the last good assignment keeps serving. */
export class ChannelError extends BurnEdgeError {
  constructor(message: string);
  code: 'INVALID_CHANNEL';
  reason: string;
}

export class NetworkError extends BurnEdgeError {
  constructor(details: { what: string; mirrors: string[]; attempts: string[]; lastStatus?: number });
  code: 'NETWORK';
  mirrors: string[];
  attempts: string[];
  lastStatus?: number;
}

/**
 * The cloud (`cloud.url`'s predict endpoint) could not be reached or could not answer (network,
 * timeout, 5xx, 429). Under `route: 'auto'` the edge serves instead; under `'cloud'` it rejects.
 * A request the server refused (4xx) is a `BurnEdgeError` with code `CLOUD_<server code>`.
 */
export class CloudUnavailableError extends BurnEdgeError {
  constructor(message: string);
  code: 'CLOUD_UNAVAILABLE';
}

export class UnsupportedArchitectureError extends BurnEdgeError {
  /** @param reason the runtime's own words */
  constructor(reason: string);
  code: 'UNSUPPORTED_ARCHITECTURE';
}

export class QuotaError extends BurnEdgeError {
  constructor(details: { needed: number; available: number });
  code: 'QUOTA';
  needed: number;
  available: number;
}
