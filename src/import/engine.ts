/**
 * The import engine: applies rows in file order with exactly the `/identify` rules
 * (normalizeIdentifyInput, decide, applyDecision from src/identity) against an in-memory index of
 * the identities it has touched, and writes each batch of rows in one sink transaction.
 *
 * Why the result equals posting the rows one by one: for every row the engine hands `decide` the
 * same `touched` set the store's own transaction would load (every live contact of every identity
 * sharing the row's email or phone number), and writes the same statements in the same order, so
 * ids, links and precedences come out the same. The index is only trusted while it mirrors the
 * store: it is dropped whenever the sink reports that another writer committed since our last
 * batch, and a value the index does not know is looked up in the store (or known absent when the
 * store was empty when the index was started and only we have written since).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { AppError } from '../errors.ts'
import type { Contact } from '../identity/contact.ts'
import { type IdentifyInput, type NormalizeOptions, normalizeIdentifyInput } from '../identity/normalize.ts'
import { applyDecision, type Decision, decide, type NewContact } from '../identity/reconcile.ts'
import type { SourceRecord } from './record.ts'
import type { ImportSink } from './sink.ts'

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
  /** How many times the index was dropped because another writer changed the store. */
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
  /** Drop the index at a batch boundary when it holds more values than this (default 5,000,000). */
  readonly maxCachedValues?: number
  /**
   * The clock for createdAt (default: the store's clock when the sink reports one, else Date.now);
   * the engine keeps it from going back.
   */
  readonly now?: () => number
  /** Attempts per batch before a batch that keeps losing races gives up (default 30). */
  readonly maxRetries?: number
}

// Values map to the primary id of the identity holding them; ABSENT marks a value known to be
// missing from the store (ids start at 1).
const ABSENT = 0
const NO_ROOTS: readonly number[] = []

/**
 * A copy of `value` that does not pin the text it was cut from. V8 represents a substring as a
 * slice of its parent, so a value kept in the index would keep its whole 1 MiB read chunk alive,
 * and memory would grow with the file instead of with the distinct values. Concatenating then
 * slicing flattens into a string of the value's own size.
 */
function detach(value: string): string
function detach(value: string | null): string | null
function detach(value: string | null): string | null {
  return value === null ? null : `${value} `.slice(0, -1)
}

function detached(c: NewContact): NewContact {
  return { ...c, email: detach(c.email), phoneNumber: detach(c.phoneNumber) }
}

function union(a: readonly number[], b: readonly number[]): readonly number[] {
  if (b.length === 0 || (a.length === 1 && b.length === 1 && a[0] === b[0])) return a
  if (a.length === 0) return b
  return [...new Set([...a, ...b])]
}

class IdentityIndex {
  readonly byEmail = new Map<string, number>()
  readonly byPhone = new Map<string, number>()
  /** Primary id → every live contact of that identity. */
  readonly members = new Map<number, Contact[]>()
  /** Every live contact of the store is in the index, so a miss means absent. */
  complete = false

  get size(): number {
    return this.byEmail.size + this.byPhone.size
  }

  clear(complete: boolean): void {
    this.byEmail.clear()
    this.byPhone.clear()
    this.members.clear()
    this.complete = complete
  }

  register(root: number, contacts: readonly Contact[]): void {
    for (const c of contacts) {
      if (c.email !== null) this.byEmail.set(c.email, root)
      if (c.phoneNumber !== null) this.byPhone.set(c.phoneNumber, root)
    }
  }
}

/**
 * Imports `records` through `sink`. Bad rows are counted and reported, never fatal; a storage
 * failure rolls back the current batch and is thrown (committed batches stay, and importing the
 * same file again finishes the job, since the import is idempotent).
 *
 * @example
 * const stats = await importRecords(new SqliteSink(store.db), source.records, { onReject: (r) => log(r) })
 */
export async function importRecords(
  sink: ImportSink,
  records: AsyncIterable<SourceRecord>,
  options: ImportOptions = {},
): Promise<ImportStats> {
  const maxBatch = options.batchSize ?? 100_000
  const quietTargetMs = options.targetBatchMs ?? 1000
  let targetBatchMs = quietTargetMs
  let batchSize = targetBatchMs > 0 ? Math.min(maxBatch, 5000) : maxBatch
  const maxCachedValues = options.maxCachedValues ?? 5_000_000
  const maxRetries = options.maxRetries ?? 30
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
  const index = new IdentityIndex()
  let lastNow = 0

  /** The identities holding `value`, from the index; `undefined` when only the store can tell. */
  function cachedRoots(map: Map<string, number>, value: string): number[] | undefined {
    const hit = map.get(value)
    if (hit !== undefined) return hit === ABSENT ? [] : [hit]
    return index.complete ? [] : undefined
  }

  /** Loads from the store every identity holding `value` into the index (or notes the value absent). */
  async function load(field: 'email' | 'phoneNumber', value: string): Promise<number[]> {
    const roots = await sink.rootsOf(field, value)
    if (roots.length === 0) (field === 'email' ? index.byEmail : index.byPhone).set(detach(value), ABSENT)
    for (const root of roots) {
      if (index.members.has(root)) continue
      const contacts = await sink.identity(root)
      index.members.set(root, contacts)
      index.register(root, contacts)
    }
    return roots
  }

  /**
   * Asks the sink once for every identity holding a value of the batch that the index does not
   * know, registers them, and notes the values nobody holds as absent.
   */
  async function prefetch(prefetchFrom: ImportSink['prefetch'] & {}, inputs: readonly (IdentifyInput | null)[]) {
    const emails = new Set<string>()
    const phones = new Set<string>()
    for (const input of inputs) {
      if (input === null) continue
      if (input.email !== null && cachedRoots(index.byEmail, input.email) === undefined) emails.add(input.email)
      if (input.phoneNumber !== null && cachedRoots(index.byPhone, input.phoneNumber) === undefined)
        phones.add(input.phoneNumber)
    }
    if (emails.size === 0 && phones.size === 0) return
    const groups = new Map<number, Contact[]>()
    for (const c of await prefetchFrom.call(sink, [...emails], [...phones])) {
      const root = c.linkedId ?? c.id
      const group = groups.get(root)
      if (group === undefined) groups.set(root, [c])
      else group.push(c)
    }
    for (const [root, contacts] of groups) {
      if (index.members.has(root)) continue
      index.members.set(root, contacts)
      index.register(root, contacts)
    }
    for (const email of emails) if (!index.byEmail.has(email)) index.byEmail.set(detach(email), ABSENT)
    for (const phone of phones) if (!index.byPhone.has(phone)) index.byPhone.set(detach(phone), ABSENT)
  }

  // The per-row path stays synchronous while the index answers and the sink writes synchronously
  // (SQLite): a million rows should not cost a million promises. Each step hands over to an async
  // continuation only when it must wait.
  function applyRow(input: IdentifyInput, now: number): Promise<void> | undefined {
    const byEmail = input.email === null ? NO_ROOTS : cachedRoots(index.byEmail, input.email)
    const byPhone = input.phoneNumber === null ? NO_ROOTS : cachedRoots(index.byPhone, input.phoneNumber)
    if (byEmail === undefined || byPhone === undefined) return loadAndApply(input, now)
    return applyInput(input, union(byEmail, byPhone), now)
  }

  async function loadAndApply(input: IdentifyInput, now: number): Promise<void> {
    const { email, phoneNumber } = input
    const byEmail = email === null ? NO_ROOTS : (cachedRoots(index.byEmail, email) ?? (await load('email', email)))
    const byPhone =
      phoneNumber === null
        ? NO_ROOTS
        : (cachedRoots(index.byPhone, phoneNumber) ?? (await load('phoneNumber', phoneNumber)))
    await applyInput(input, union(byEmail, byPhone), now)
  }

  function applyInput(input: IdentifyInput, roots: readonly number[], now: number): Promise<void> | undefined {
    const touched: Contact[] = []
    for (const root of roots) touched.push(...(index.members.get(root) ?? []))
    let decision = decide(input, touched, now)
    if (decision.create === null && decision.demotedPrimaryIds.length === 0) {
      stats.unchanged++
      return
    }
    const created = write(decision, now)
    if (decision.create !== null) decision = { ...decision, create: detached(decision.create) }
    if (created instanceof Promise) return created.then((id) => remember(touched, decision, id))
    remember(touched, decision, created)
  }

  /** Stores the decision (rule 2's relinks, then the new contact); resolves to the created id. */
  function write(decision: Decision, now: number): number | null | Promise<number | null> {
    const demoted = decision.demotedPrimaryIds
    const primaryId = decision.primaryId as number
    for (let i = 0; i < demoted.length; i++) {
      const done = sink.demote(primaryId, demoted[i] as number, now)
      if (done instanceof Promise) {
        return (async () => {
          await done
          for (const demotedId of demoted.slice(i + 1)) await sink.demote(primaryId, demotedId, now)
          return decision.create === null ? null : await sink.insert(decision.create)
        })()
      }
    }
    return decision.create === null ? null : sink.insert(decision.create)
  }

  /** Mirrors the committed change in the index. */
  function remember(touched: readonly Contact[], decision: Decision, createdId: number | null): void {
    const contacts = applyDecision(touched, decision, createdId)
    const root = (decision.primaryId ?? createdId) as number
    const merged = decision.demotedPrimaryIds.length
    for (const demotedId of decision.demotedPrimaryIds) index.members.delete(demotedId)
    index.members.set(root, contacts)
    if (merged > 0) index.register(root, contacts)
    else index.register(root, [contacts[contacts.length - 1] as Contact])
    stats.identitiesMerged += merged
    if (decision.create !== null) stats.contactsCreated++
  }

  /**
   * Runs one batch, rerunning it from the start when the sink says it lost a race (the rollback
   * undid all of it). A batch that loses twice is split in halves, run in file order: smaller
   * transactions read and write fewer pages, so they collide less with concurrent requests.
   */
  async function runBatch(batch: SourceRecord[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await attemptBatch(batch)
      } catch (err) {
        if (!sink.isRetryable?.(err)) throw err
        if (attempt >= maxRetries) {
          throw new AppError(
            'ERR_STORAGE_UNAVAILABLE',
            `a batch of ${batch.length} rows kept losing races with other writers after ${attempt} attempts`,
            { cause: err },
          )
        }
        stats.retries++
        batchSize = Math.max(Math.min(maxBatch, 100), Math.floor(batchSize / 2))
        if (attempt >= 2 && batch.length >= 2) {
          const half = Math.ceil(batch.length / 2)
          await runBatch(batch.slice(0, half))
          await runBatch(batch.slice(half))
          return
        }
        // Full jitter: the transaction that won commits within milliseconds.
        await sleep(Math.random() * Math.min(2 ** attempt, 100))
      }
    }
  }

  async function attemptBatch(batch: SourceRecord[]): Promise<void> {
    const began = performance.now()
    const start = await sink.begin()
    const rejects: Reject[] = []
    const before = { ...stats }
    try {
      // Someone else writes between our batches: keep the lock short for them.
      const othersWrote = start.othersWrote ?? start.changed
      if (quietTargetMs > 0)
        targetBatchMs = othersWrote && stats.batches > 0 ? Math.min(100, quietTargetMs) : quietTargetMs
      const oversized = index.size > maxCachedValues
      if (start.changed || oversized) {
        if (stats.batches > 0 && (othersWrote || oversized)) stats.cacheResets++
        index.clear(start.empty)
      }
      // One timestamp per batch, never behind the newest stored row or a previous batch, so
      // imported contacts' creation order agrees with their ids.
      const now = Math.max(options.now?.() ?? start.clock ?? Date.now(), lastNow, start.newestCreatedAt)
      lastNow = now
      // Normalise first, so a sink that reads in bulk can be asked once for the whole batch.
      const inputs: (IdentifyInput | null)[] = []
      for (const record of batch) {
        stats.rowsRead++
        if (record.error !== undefined) {
          rejects.push({ line: record.line, code: 'ERR_INVALID_INPUT', reason: record.error })
          inputs.push(null)
          continue
        }
        try {
          inputs.push(normalizeIdentifyInput(record.body, options.normalize))
        } catch (err) {
          const code = (err as { code?: unknown }).code
          if (code !== 'ERR_INVALID_INPUT') throw err
          rejects.push({ line: record.line, code, reason: (err as Error).message })
          inputs.push(null)
        }
      }
      if (sink.prefetch !== undefined) await prefetch(sink.prefetch, inputs)
      for (const input of inputs) {
        if (input === null) continue
        const pending = applyRow(input, now)
        if (pending !== undefined) await pending
      }
      await sink.commit()
    } catch (err) {
      await sink.rollback().catch(() => undefined)
      // The index may hold rows that were rolled back: forget it, and the counts of this batch.
      index.clear(false)
      Object.assign(stats, before)
      throw err
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
