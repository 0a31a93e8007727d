/**
 * `npm run bench`: the service against the HTTP ceiling, in one run, on this machine.
 *
 * Starts a bare Fastify endpoint (bench/lib/ceiling.ts) and the service (SQLite by default,
 * PostgreSQL when BENCH_DATABASE_URL is set), seeds a data set by bulk insert, drives both with the
 * same autocannon load generator at concurrency 10 and 50 for each workload, and prints
 * requests/s, p50, p99, errors and the service/ceiling ratio, and the operator's lookup
 * (`GET /identities?email=`) against the service's own `/identify` read. Then the read workload at 1,000 and
 * 1,000,000 stored contacts: p50 ratio and the server's peak RSS. Results go to bench/results/.
 *
 * Options (environment): BENCH_DURATION seconds per run (default 6), BENCH_CONTACTS for the
 * workload data set (default 100000), BENCH_SCALE=0 to skip the scale runs, BENCH_LOG_LEVEL
 * (default info, as deployed; the log goes to /dev/null).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import pg from 'pg'
import { SqliteStore } from '../src/store/sqlite.ts'
import { bodies, email, identitiesFor, seedPostgresSql, seedSqlite, type Workload } from './lib/dataset.ts'
import { probeLatency } from './lib/latency.ts'

const DURATION = Number(process.env.BENCH_DURATION ?? 6)
const ROUNDS = 3
const CONTACTS = Number(process.env.BENCH_CONTACTS ?? 100_000)
const SCALE = process.env.BENCH_SCALE !== '0'
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'info'
const PG_URL = process.env.BENCH_DATABASE_URL
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const OPERATOR_KEY = 'bench-operator-key-0123456789abcdef'

interface Measurement {
  rps: number
  p50: number
  p99: number
  errors: number
}

interface Row {
  workload: string
  connections: number
  ceiling: Measurement
  service: Measurement
  ratio: number
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  return typeof address === 'object' && address !== null ? address.port : 0
}

interface Running {
  child: ChildProcess
  url: string
  stop(): Promise<void>
}

/** Starts a node process on a free port and waits until `probe` answers. Output goes to /dev/null. */
async function launch(args: string[], env: Record<string, string>, probe: string): Promise<Running> {
  const port = await freePort()
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env, HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`)
    try {
      const res = await fetch(url + probe, probe === '/identify' ? { method: 'POST', body: '{}' } : {})
      if (res.status < 500) break
    } catch {}
    if (i > 300) throw new Error(`${args.join(' ')} did not start`)
    await sleep(100)
  }
  return {
    child,
    url,
    async stop() {
      child.kill('SIGTERM')
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve))
    },
  }
}

/** User + system CPU time a process has used, in microseconds (Linux, 100 Hz ticks). */
function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}

/**
 * Server CPU per request at a fixed, modest rate: unlike requests/s under saturation, this does not
 * depend on how much of the shared machine the load generator got, so it is the steadier figure.
 */
async function cpuPerRequest(server: Running, next: () => string, rate = 3000, seconds = 4): Promise<number> {
  const drive = (duration: number) =>
    autocannon({
      url: `${server.url}/identify`,
      connections: 10,
      overallRate: rate,
      duration,
      requests: [
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          setupRequest: (request) => ({ ...request, body: next() }),
        },
      ],
    })
  await drive(1)
  const before = cpuMicros(server.child.pid as number)
  const result = await drive(seconds)
  return (cpuMicros(server.child.pid as number) - before) / result.requests.total
}

/** Peak resident memory of a running process (Linux VmHWM), in MB. */
function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return Math.round(kb / 1024)
}

/** The round with the median throughput (its latencies and errors travel with it), errors summed. */
function median(runs: Measurement[]): Measurement {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps)
  const middle = sorted[Math.floor(sorted.length / 2)] as Measurement
  return { ...middle, errors: runs.reduce((sum, r) => sum + r.errors, 0) }
}

async function load(url: string, connections: number, next: () => string, duration = DURATION): Promise<Measurement> {
  return measure(
    await autocannon({
      url: `${url}/identify`,
      connections,
      duration,
      requests: [
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          setupRequest: (request) => ({ ...request, body: next() }),
        },
      ],
    }),
  )
}

/** The operator's lookup, `GET /identities?email=…` of known values, with the bench's operator key. */
async function lookup(url: string, connections: number, identities: number, duration = DURATION): Promise<Measurement> {
  return measure(
    await autocannon({
      url,
      connections,
      duration,
      requests: [
        {
          method: 'GET',
          headers: { authorization: `Bearer ${OPERATOR_KEY}` },
          setupRequest: (request) => ({
            ...request,
            path: `/identities?email=${encodeURIComponent(email(1 + Math.floor(Math.random() * identities)))}`,
          }),
        },
      ],
    }),
  )
}

function measure(result: autocannon.Result): Measurement {
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  }
}

interface Target {
  name: string
  databaseUrl: string
  identities: number
  cleanup(): Promise<void>
}

async function sqliteTarget(contacts: number): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'identity-bench-'))
  const path = join(dir, 'contacts.db')
  const store = new SqliteStore({ path })
  const t0 = performance.now()
  const identities = seedSqlite(store.db, contacts)
  store.db.pragma('wal_checkpoint(TRUNCATE)')
  // No ANALYZE, as on a database the service made: better-sqlite3 builds SQLite with STAT4, and
  // with sqlite_stat4 present every statement comparing a bound value with an indexed column is
  // re-prepared on each run (measured: the identity load went from 5 to 14 µs).
  await store.close()
  console.error(`seeded ${contacts.toLocaleString()} contacts into SQLite in ${Math.round(performance.now() - t0)} ms`)
  return {
    name: 'sqlite',
    databaseUrl: `sqlite:${path}`,
    identities,
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  }
}

async function postgresTarget(adminUrl: string, contacts: number): Promise<Target> {
  const name = `identity_bench_${process.pid}_${Date.now()}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const databaseUrl = url.toString()
  // Let the service create the schema, then seed it on the server side.
  const migrator = await startService(databaseUrl)
  await migrator.stop()
  const identities = identitiesFor(contacts)
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  const t0 = performance.now()
  await client.query(seedPostgresSql(identities))
  await client.end()
  console.error(
    `seeded ${contacts.toLocaleString()} contacts into PostgreSQL in ${Math.round(performance.now() - t0)} ms`,
  )
  return {
    name: 'postgres',
    databaseUrl,
    identities,
    async cleanup() {
      const c = new pg.Client({ connectionString: adminUrl })
      await c.connect()
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await c.end()
    },
  }
}

// The service runs as `npm start` runs it: compiled, on plain node.
execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' })

function startService(databaseUrl: string): Promise<Running> {
  return launch(['dist/server.js'], { DATABASE_URL: databaseUrl, LOG_LEVEL, ADMIN_API_KEYS: OPERATOR_KEY }, '/readyz')
}

function fmt(m: Measurement): string[] {
  return [m.rps.toLocaleString(), `${m.p50}`, `${m.p99}`, `${m.errors}`]
}

function printTable(title: string, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`
  console.log(`\n${title}\n`)
  console.log(line(header))
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`)
  for (const r of rows) console.log(line(r))
}

const ceiling = await launch(['--import', 'tsx', 'bench/lib/ceiling.ts'], {}, '/identify')
const target = PG_URL ? await postgresTarget(PG_URL, CONTACTS) : await sqliteTarget(CONTACTS)
const service = await startService(target.databaseUrl)

const rows: Row[] = []
const cpu: { workload: string; ceilingUs: number; serviceUs: number }[] = []
let writeLatency: { ceiling: { p50: number; p99: number }; service: { p50: number; p99: number } } | null = null
let runNumber = 0
try {
  // First, on the freshly seeded data, before the write workloads grow it.
  for (const workload of ['read', 'write', 'mixed'] as Workload[]) {
    runNumber++
    const c = await cpuPerRequest(ceiling, bodies(workload, target.identities, 300 + runNumber))
    const s = await cpuPerRequest(service, bodies(workload, target.identities, 400 + runNumber))
    cpu.push({ workload, ceilingUs: Math.round(c * 10) / 10, serviceUs: Math.round(s * 10) / 10 })
  }
  for (const workload of ['read', 'write-seq', 'write', 'mixed'] as Workload[]) {
    for (const connections of [10, 50]) {
      runNumber++
      // A short warm-up of each, so that JIT and caches are in the same state for both.
      await load(ceiling.url, connections, bodies(workload, target.identities, 900 + runNumber), 1)
      await load(service.url, connections, bodies(workload, target.identities, 500 + runNumber), 1)
      // The machine is shared and noisy: alternate the two in rounds and keep each one's median.
      const cs: Measurement[] = []
      const ss: Measurement[] = []
      for (let round = 0; round < ROUNDS; round++) {
        const tag = runNumber * 10 + round
        cs.push(await load(ceiling.url, connections, bodies(workload, target.identities, tag), DURATION / ROUNDS))
        ss.push(await load(service.url, connections, bodies(workload, target.identities, 500 + tag), DURATION / ROUNDS))
      }
      const c = median(cs)
      const s = median(ss)
      rows.push({ workload, connections, ceiling: c, service: s, ratio: Math.round((s.rps / c.rps) * 100) / 100 })
      console.error(`${workload} c=${connections}: service ${s.rps}/s, ceiling ${c.rps}/s`)
    }
  }
  // A lone client's write: group commit must not make it wait (c=1, microseconds).
  {
    const c = await probeLatency(ceiling.url, bodies('write', target.identities, 970), 2000)
    const s = await probeLatency(service.url, bodies('write', target.identities, 971), 2000)
    writeLatency = { ceiling: c, service: s }
    console.error(`write c=1: service p50 ${s.p50} µs p99 ${s.p99} µs; ceiling p50 ${c.p50} µs`)
  }
  // The operator's lookup against /identify's own read, alternated in the same way.
  {
    await lookup(service.url, 50, target.identities, 1)
    const reads: Measurement[] = []
    const lookups: Measurement[] = []
    for (let round = 0; round < ROUNDS; round++) {
      reads.push(await load(service.url, 50, bodies('read', target.identities, 950 + round), DURATION / ROUNDS))
      lookups.push(await lookup(service.url, 50, target.identities, DURATION / ROUNDS))
    }
    const r = median(reads)
    const l = median(lookups)
    rows.push({
      workload: 'lookup',
      connections: 50,
      ceiling: r,
      service: l,
      ratio: Math.round((l.rps / r.rps) * 100) / 100,
    })
    console.error(`lookup c=50: ${l.rps}/s against /identify reads ${r.rps}/s`)
  }
} finally {
  await service.stop()
  await target.cleanup()
}

printTable(
  `Service (${target.name}, ${CONTACTS.toLocaleString()} contacts) against the ceiling; ${DURATION} s per run; latency in ms` +
    "\n(the `lookup` row is GET /identities?email= against the service's own /identify read, not the ceiling)",
  ['workload', 'conns', 'ceiling req/s', 'p50', 'p99', 'err', 'service req/s', 'p50', 'p99', 'err', 'ratio'],
  rows.map((r) => [r.workload, `${r.connections}`, ...fmt(r.ceiling), ...fmt(r.service), r.ratio.toFixed(2)]),
)

if (writeLatency !== null) {
  console.log(
    `\nA lone client's write (c=1, sequential requests): service p50 ${writeLatency.service.p50} µs, ` +
      `p99 ${writeLatency.service.p99} µs (ceiling p50 ${writeLatency.ceiling.p50} µs)`,
  )
}

printTable(
  'Server CPU per request at a fixed 3,000 req/s (steadier than throughput on a shared machine)',
  ['workload', 'ceiling µs/req', 'service µs/req', 'ceiling/service'],
  cpu.map((r) => [r.workload, `${r.ceilingUs}`, `${r.serviceUs}`, (r.ceilingUs / r.serviceUs).toFixed(2)]),
)

interface ScaleRow {
  contacts: number
  service: Measurement
  ceiling: Measurement
  /** Sequential requests, microseconds. */
  latencyUs: { p50: number; p99: number }
  peakRssMb: number
}
const scale: ScaleRow[] = []
if (SCALE && !PG_URL) {
  for (const contacts of [1_000, 1_000_000]) {
    const t = await sqliteTarget(contacts)
    const s = await startService(t.databaseUrl)
    try {
      await load(s.url, 50, bodies('read', t.identities, 700), 1)
      const c = await load(ceiling.url, 50, bodies('read', t.identities, 800))
      const m = await load(s.url, 50, bodies('read', t.identities, 800))
      const latencyUs = await probeLatency(s.url, bodies('read', t.identities, 800))
      scale.push({ contacts, service: m, ceiling: c, latencyUs, peakRssMb: peakRssMb(s.child.pid as number) })
    } finally {
      await s.stop()
      await t.cleanup()
    }
  }
  const [small, large] = scale as [ScaleRow, ScaleRow]
  printTable(
    'Read workload as the table grows (concurrency 50)',
    [
      'contacts',
      'req/s (c=50)',
      'p50 ms',
      'p99 ms',
      'errors',
      'ratio to ceiling',
      'p50 µs (c=1)',
      'p99 µs (c=1)',
      'peak RSS MB',
    ],
    scale.map((r) => [
      r.contacts.toLocaleString(),
      r.service.rps.toLocaleString(),
      `${r.service.p50}`,
      `${r.service.p99}`,
      `${r.service.errors}`,
      (r.service.rps / r.ceiling.rps).toFixed(2),
      `${r.latencyUs.p50}`,
      `${r.latencyUs.p99}`,
      `${r.peakRssMb}`,
    ]),
  )
  console.log(
    `\np50 at 1M / p50 at 1k = ${(large.latencyUs.p50 / small.latencyUs.p50).toFixed(2)} (sequential, µs); ` +
      `throughput at 1M / at 1k = ${(large.service.rps / small.service.rps).toFixed(2)}`,
  )
}
await ceiling.stop()

mkdirSync(join(ROOT, 'bench/results'), { recursive: true })
const stamp = new Date().toISOString().replace(/[:.]/g, '-')
const file = join(ROOT, `bench/results/http-${target.name}-${stamp}.json`)
writeFileSync(
  file,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      engine: target.name,
      node: process.version,
      cpus: cpus().length,
      durationSeconds: DURATION,
      contacts: CONTACTS,
      logLevel: LOG_LEVEL,
      rows,
      cpu,
      writeLatency,
      scale,
    },
    null,
    2,
  )}\n`,
)
console.log(`\nresults: ${file}`)
