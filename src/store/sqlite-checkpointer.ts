/**
 * Checkpoints off the event loop: a worker thread with its own connection to the file copies the
 * write-ahead log into the database (`wal_checkpoint(PASSIVE)`) every few tens of milliseconds, so
 * the service's connection never checkpoints at commit (its `wal_autocheckpoint` is off) and a
 * request never waits for a checkpoint's fsyncs. PASSIVE never blocks anyone; when it cannot keep
 * up (long readers) and the log passes `maxWalBytes`, one TRUNCATE checkpoint bounds it.
 */
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

export interface CheckpointerOptions {
  readonly path: string
  readonly intervalMs?: number
  readonly maxWalBytes?: number
}

// The worker's code, as CommonJS: it runs the same in development (tsx) and from dist/.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const { statSync } = require('node:fs')
const Database = require(workerData.driver)
const db = new Database(workerData.path)
db.pragma('busy_timeout = 0')
const walSize = () => { try { return statSync(workerData.path + '-wal').size } catch { return 0 } }
const tick = () => {
  try {
    if (walSize() > workerData.maxWalBytes) {
      db.pragma('busy_timeout = 2000')
      db.pragma('wal_checkpoint(TRUNCATE)')
      db.pragma('busy_timeout = 0')
    } else {
      db.pragma('wal_checkpoint(PASSIVE)')
    }
  } catch {
    // Busy (another process checkpoints) or closing: the next tick tries again.
  }
}
const timer = setInterval(tick, workerData.intervalMs)
parentPort.on('message', (message) => {
  if (message !== 'stop') return
  clearInterval(timer)
  tick()
  db.close()
  parentPort.postMessage('stopped')
  parentPort.close()
})
`

export class Checkpointer {
  readonly #worker: Worker

  constructor(options: CheckpointerOptions) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3')
    this.#worker = new Worker(WORKER, {
      eval: true,
      workerData: {
        driver,
        path: options.path,
        intervalMs: options.intervalMs ?? 50,
        maxWalBytes: options.maxWalBytes ?? 64 * 1024 * 1024,
      },
    })
    // It must never keep the process alive, nor take it down.
    this.#worker.unref()
    this.#worker.on('error', () => undefined)
  }

  /** Runs a last checkpoint, closes the worker's connection and ends the thread. */
  async stop(): Promise<void> {
    // Referenced again while it finishes: with nothing else left (a test's last close), an
    // unreferenced worker's answer would not keep the process waiting for it.
    this.#worker.ref()
    const stopped = new Promise<void>((resolve) => {
      this.#worker.once('message', () => resolve())
      this.#worker.once('exit', () => resolve())
    })
    this.#worker.postMessage('stop')
    let timer: NodeJS.Timeout | undefined
    await Promise.race([stopped, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))])
    clearTimeout(timer)
    await this.#worker.terminate()
  }
}
