/**
 * @module telemetry-queue
 * Telemetry batches that could not be sent yet, kept in IndexedDB (database
 * `burn-edge-telemetry`, store `batches`) so they survive a reload and are retried later. The
 * queue is bounded by a number of log records: adding past the bound drops the oldest batches.
 * Where IndexedDB is missing or refuses (Node, some private modes) it lives in memory instead.
 * Nothing here throws to the caller: a failing store only loses telemetry.
 */

/**
 * @typedef {{ id?: number, body: unknown, count: number, attempts: number, notBefore: number }} QueuedBatch
 *   `body` is the OTLP JSON request body, `count` its number of log records, `notBefore` the
 *   earliest time (ms since the epoch) to send it again.
 * @typedef {{ add(batch: QueuedBatch): Promise<void>, list(): Promise<QueuedBatch[]>,
 *             update(batch: QueuedBatch): Promise<void>, remove(id: number): Promise<void> }} Queue
 */

export const DB_NAME = 'burn-edge-telemetry';
const STORE = 'batches';

/**
 * Opens the queue.
 * @param {{ maxRecords: number }} options
 * @returns {Promise<Queue>}
 */
export async function openQueue({ maxRecords }) {
  try {
    if (typeof indexedDB === 'undefined') return memoryQueue(maxRecords);
    const db = await new Promise((resolve, reject) => {
      const open = indexedDB.open(DB_NAME, 1);
      open.onupgradeneeded = () => open.result.createObjectStore(STORE, { keyPath: 'id', autoIncrement: true });
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
      open.onblocked = () => reject(new Error('telemetry queue blocked'));
    });
    return idbQueue(/** @type {IDBDatabase} */ (db), maxRecords);
  } catch {
    return memoryQueue(maxRecords);
  }
}

/**
 * Drops the oldest batches until `incoming` more records fit.
 * @param {QueuedBatch[]} batches oldest first
 * @param {number} incoming
 * @param {number} maxRecords
 * @returns {QueuedBatch[]} the ones to drop
 */
export function overflow(batches, incoming, maxRecords) {
  let total = batches.reduce((n, b) => n + b.count, 0) + incoming;
  const drop = [];
  for (const b of batches) {
    if (total <= maxRecords) break;
    drop.push(b);
    total -= b.count;
  }
  return drop;
}

/**
 * @param {IDBDatabase} db
 * @param {number} maxRecords
 * @returns {Queue}
 */
function idbQueue(db, maxRecords) {
  /**
   * @template T
   * @param {IDBTransactionMode} mode
   * @param {(store: IDBObjectStore) => IDBRequest<T> | void} work
   * @returns {Promise<T | undefined>}
   */
  const run = (mode, work) => new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = work(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request ? request.result : undefined);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
  const list = async () => /** @type {QueuedBatch[]} */ ((await run('readonly', (s) => s.getAll())) ?? []);
  return {
    list,
    async add(batch) {
      if (batch.count > maxRecords) return;
      const stale = overflow(await list(), batch.count, maxRecords);
      const { id, ...fresh } = batch;
      await run('readwrite', (s) => {
        for (const b of stale) s.delete(/** @type {number} */ (b.id));
        s.add(fresh);
      });
    },
    async update(batch) {
      await run('readwrite', (s) => s.put(batch));
    },
    async remove(id) {
      await run('readwrite', (s) => s.delete(id));
    },
  };
}

/**
 * @param {number} maxRecords
 * @returns {Queue}
 */
function memoryQueue(maxRecords) {
  /** @type {QueuedBatch[]} */
  let batches = [];
  let nextId = 1;
  return {
    async list() {
      return batches.map((b) => ({ ...b }));
    },
    async add(batch) {
      if (batch.count > maxRecords) return;
      const stale = new Set(overflow(batches, batch.count, maxRecords));
      batches = batches.filter((b) => !stale.has(b));
      batches.push({ ...batch, id: nextId++ });
    },
    async update(batch) {
      batches = batches.map((b) => (b.id === batch.id ? { ...batch } : b));
    },
    async remove(id) {
      batches = batches.filter((b) => b.id !== id);
    },
  };
}
