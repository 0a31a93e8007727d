/**
 * Import progress on standard error: a bar with rows/s and ETA on a terminal (by bytes read, when
 * the size is known), a plain line every few seconds otherwise (logs, CI), so stdout stays free
 * for `--json`.
 */
import cliProgress from 'cli-progress'
import type { ImportStats } from './engine.ts'
import type { ImportSource } from './source.ts'

export interface Progress {
  update(stats: Readonly<ImportStats>): void
  stop(): void
}

const LINE_EVERY_MS = 5000

/**
 * @example
 * const progress = startProgress(source, process.stderr)
 * await importRecords(sink, source.records, { onBatch: (s) => progress.update(s) })
 * progress.stop()
 */
export function startProgress(source: ImportSource, stream: NodeJS.WriteStream, quiet = false): Progress {
  const started = performance.now()
  const rate = (rows: number) => Math.round(rows / Math.max((performance.now() - started) / 1000, 0.001))
  if (quiet) return { update() {}, stop() {} }
  if (!stream.isTTY) {
    let last = started
    return {
      update(stats) {
        const now = performance.now()
        if (now - last < LINE_EVERY_MS) return
        last = now
        const share =
          source.totalBytes === null ? '' : ` (${Math.floor((100 * source.bytesRead()) / source.totalBytes)}%)`
        stream.write(
          `import: ${stats.rowsRead} rows${share}, ${rate(stats.rowsRead)} rows/s, ${stats.rejected} rejected\n`,
        )
      },
      stop() {},
    }
  }
  const total = source.totalBytes
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format:
        total === null
          ? 'import | {rows} rows | {rate} rows/s | {rejected} rejected'
          : 'import [{bar}] {percentage}% | {rows} rows | {rate} rows/s | ETA {eta_formatted} | {rejected} rejected',
      hideCursor: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  )
  bar.start(total ?? 1, 0, { rows: 0, rate: 0, rejected: 0 })
  return {
    update(stats) {
      bar.update(total === null ? 0 : source.bytesRead(), {
        rows: stats.rowsRead,
        rate: rate(stats.rowsRead),
        rejected: stats.rejected,
      })
    },
    stop() {
      if (total !== null) bar.update(total)
      bar.stop()
    },
  }
}
