/**
 * The import engine: reads rows in file order, normalises each as `/identify` would, and runs the
 * service's own identify unit (src/service/identify.ts) for it inside one store batch transaction
 * per batch of rows. So an import stores exactly what posting the rows one by one would — contacts,
 * links and events — with each row's events carrying `import:<run>:<line>` as their request id.
 *
 * What makes it fast is only what it saves: rows share a transaction, and the identity cache
 * (cache.ts) answers reads for identities the batch has already seen.
 */
import { randomBytes } from 'node:crypto'
import { AppError } from '../errors.ts'
import { type IdentifyInput, type NormalizeOptions, normalizeIdentifyInput } from '../identity/normalize.ts'
import { type IdentifyOutcome, identify } from '../service/identify.ts'
import { BatchContentionError, type BatchTx, type Store } from '../store/port.ts'
import { IdentityCache } from './cache.ts'
import type { SourceRecord } from './record.ts'

export interface ImportStats {
  /** Rows read from the file (blank lines and the CSV header excluded). */
  rowsRead: number
  rejected: number
  contactsCreated: number
  /** Identities that were folded into an older one (each demoted primary counts once). */
  identitiesMerged: number
  /** Valid rows that brought nothing new. */
  unchanged: number
  batches: number
  /** How many times the cache was dropped because another writer changed the store. */
  cacheResets: number
  /** Batches rerun because they lost a race with another writer (PostgreSQL serialization failures). */
  retries: number
  /** Largest V8 heap seen at a batch boundary, in bytes. */
  peakHeapBytes: number
  elapsedMs: number
}

export interface Reject {
  readonly line: number
  readonly reason: string
  readonly code: string
}

export interface ImportOptions {
  /** Most rows per transaction (default 100,000). */
  readonly batchSize?: number
  /**
   * Aim for transactions of about this long (default 1000 ms; 100 ms while another writer is
   * active): batches start at 5,000 rows and are resized after each commit. Every commit rewrites
   * the index pages it touched, so long batches are much faster; short ones keep the service's
   * requests from waiting long for the write lock. 0: always `batchSize` rows.
   */
  readonly targetBatchMs?: number
  /** Normalisation options; must match the server's (PHONE_DEFAULT_COUNTRY) for equal results. */
  readonly normalize?: NormalizeOptions
  /** Called for each rejected row once its batch is committed. */
  readonly onReject?: (reject: Reject) => void | Promise<void>
  /** Called after each committed batch (progress; tests interleave other writers here). */
  readonly onBatch?: (stats: Readonly<ImportStats>) => void | Promise<void>
  /** Drop the cache at a batch boundary when it holds more values than this (default 5,000,000). */
  readonly maxCachedValues?: number
  /** The run's name in events' request ids (`import:<run>:<line>`); random by default. */
  readonly runId?: string
}

interface BatchCounts {
  contactsCreated: number
  identitiesMerged: number
  unchanged: number
  othersWrote: boolean
  /** Rows refused by the unit itself: every value blocked (SPEC §9). */
  refused: Reject[]
}

/**
 * Imports `records` into `store`. Bad rows are counted and reported, never fatal; a storage failure
 * rolls back the current batch and is thrown (committed batches stay, and importing the same file
 * again finishes the job, since the import is idempotent).
 *
 * @example
 * const stats = await importRecords(store, source.records, { onReject: (r) => log(r) })
 */
export async function importRecords(
  store: Store,
  records: AsyncIterable<SourceRecord>,
  options: ImportOptions = {},
): Promise<ImportStats> {
  const maxBatch = options.batchSize ?? 100_000
  const quietTargetMs = options.targetBatchMs ?? 1000
  let targetBatchMs = quietTargetMs
  let batchSize = targetBatchMs > 0 ? Math.min(maxBatch, 5000) : maxBatch
  const maxCachedValues = options.maxCachedValues ?? 5_000_000
  const runId = options.runId ?? randomBytes(4).toString('hex')
  const started = performance.now()
  const stats: ImportStats = {
    rowsRead: 0,
    rejected: 0,
    contactsCreated: 0,
    identitiesMerged: 0,
    unchanged: 0,
    batches: 0,
    cacheResets: 0,
    retries: 0,
    peakHeapBytes: 0,
    elapsedMs: 0,
  }
  const cache = new IdentityCache()

  /** Normalises a batch's rows: the valid inputs with their lines, and the rejects. */
  function normalise(batch: readonly SourceRecord[]) {
    const rows: { line: number; input: IdentifyInput }[] = []
    const rejects: Reject[] = []
    for (const record of batch) {
      if (record.error !== undefined) {
        rejects.push({ line: record.line, code: 'ERR_INVALID_INPUT', reason: record.error })
        continue
      }
      try {
        rows.push({ line: record.line, input: normalizeIdentifyInput(record.body, options.normalize) })
      } catch (err) {
        const code = (err as { code?: unknown }).code
        if (code !== 'ERR_INVALID_INPUT') throw err
        rejects.push({ line: record.line, code, reason: (err as Error).message })
      }
    }
    return { rows, rejects }
  }

  /** One batch in one transaction: every row through the identify unit, over the cache. */
  async function apply(tx: BatchTx, rows: readonly { line: number; input: IdentifyInput }[]): Promise<BatchCounts> {
    const counts: BatchCounts = {
      contactsCreated: 0,
      identitiesMerged: 0,
      unchanged: 0,
      othersWrote: tx.start.othersWrote,
      refused: [],
    }
    const oversized = cache.size > maxCachedValues
    if (!tx.start.cacheValid || oversized) {
      if (stats.batches > 0 && (tx.start.othersWrote || oversized)) stats.cacheResets++
      cache.clear(tx.start.empty)
    }
    if (tx.prefetch !== undefined) {
      const asked = cache.unknown(rows.map((r) => r.input))
      if (asked.emails.length > 0 || asked.phoneNumbers.length > 0) {
        cache.fill(await tx.prefetch(asked.emails, asked.phoneNumbers), asked)
      }
    }
    for (const { line, input } of rows) {
      let outcome: IdentifyOutcome
      try {
        ;({ outcome } = await identify(cache.over(tx.forRequest(`import:${runId}:${line}`)), input))
      } catch (err) {
        // The unit refuses a row whose every value is blocked before it writes anything.
        if (!(err instanceof AppError) || err.code !== 'ERR_BLOCKED_VALUE') throw err
        counts.refused.push({ line, code: err.code, reason: err.message })
        continue
      }
      if (outcome === 'new_primary' || outcome === 'new_secondary') counts.contactsCreated++
      else if (outcome === 'merge') counts.identitiesMerged++
      else counts.unchanged++
    }
    return counts
  }

  /**
   * Runs one batch; a batch that keeps losing races with other writers is split in halves, run in
   * file order: smaller transactions read and write fewer pages, so they collide less.
   */
  async function runRows(rows: readonly { line: number; input: IdentifyInput }[]): Promise<BatchCounts> {
    try {
      return await store.batch((tx) => apply(tx, rows), {
        // A batch of one row is a request: it gets as many attempts as the service gives one.
        attempts: rows.length >= 2 ? 2 : 100,
        splittable: rows.length >= 2,
        onRetry: () => stats.retries++,
      })
    } catch (err) {
      // The cache may hold rows that were rolled back.
      cache.clear(false)
      if (!(err instanceof BatchContentionError) || rows.length < 2) throw err
      stats.retries++
      batchSize = Math.max(Math.min(maxBatch, 100), Math.floor(batchSize / 2))
      const half = Math.ceil(rows.length / 2)
      const first = await runRows(rows.slice(0, half))
      const second = await runRows(rows.slice(half))
      return {
        contactsCreated: first.contactsCreated + second.contactsCreated,
        identitiesMerged: first.identitiesMerged + second.identitiesMerged,
        unchanged: first.unchanged + second.unchanged,
        othersWrote: first.othersWrote || second.othersWrote,
        refused: [...first.refused, ...second.refused],
      }
    }
  }

  async function runBatch(batch: SourceRecord[]): Promise<void> {
    const began = performance.now()
    const { rows, rejects } = normalise(batch)
    const counts = rows.length > 0 ? await runRows(rows) : null
    stats.rowsRead += batch.length
    if (counts !== null) {
      rejects.push(...counts.refused)
      rejects.sort((a, b) => a.line - b.line)
      stats.contactsCreated += counts.contactsCreated
      stats.identitiesMerged += counts.identitiesMerged
      stats.unchanged += counts.unchanged
      // Someone else writes between our batches: keep the lock short for them.
      if (quietTargetMs > 0) targetBatchMs = counts.othersWrote ? Math.min(100, quietTargetMs) : quietTargetMs
    }
    if (targetBatchMs > 0) {
      // Resize towards the target, at most doubling or halving at a time.
      const took = Math.max(performance.now() - began, 1)
      const factor = Math.min(2, Math.max(0.5, targetBatchMs / took))
      batchSize = Math.max(Math.min(maxBatch, 100), Math.min(maxBatch, Math.round(batchSize * factor)))
    }
    stats.rejected += rejects.length
    stats.batches++
    stats.peakHeapBytes = Math.max(stats.peakHeapBytes, process.memoryUsage().heapUsed)
    stats.elapsedMs = performance.now() - started
    if (options.onReject) for (const r of rejects) await options.onReject(r)
    await options.onBatch?.(stats)
  }

  let batch: SourceRecord[] = []
  try {
    for await (const record of records) {
      batch.push(record)
      if (batch.length >= batchSize) {
        await runBatch(batch)
        batch = []
      }
    }
  } catch (err) {
    // The file broke off (unreadable, or its structure is malformed): keep what was read before it.
    if (batch.length > 0 && (err as { code?: unknown }).code === 'ERR_INVALID_INPUT') await runBatch(batch)
    throw err
  }
  if (batch.length > 0) await runBatch(batch)
  stats.peakHeapBytes = Math.max(stats.peakHeapBytes, process.memoryUsage().heapUsed)
  stats.elapsedMs = performance.now() - started
  return stats
}
