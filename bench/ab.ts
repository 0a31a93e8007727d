/**
 * `npm run bench:ab -- OLD_DIST NEW_DIST`: is NEW slower than OLD? On a shared machine `npm run bench`
 * swings by more than the few per cent in question, so this alternates the two in many short rounds
 * on the same seeded data, each server pinned to one core (`taskset`) away from the load generator,
 * and runs OLD twice so that the spread between two identical servers shows the noise.
 *
 * Per round and workload: saturated throughput (concurrency 50) and server CPU per request at a
 * fixed 2,000 req/s (from /proc schedstat, every thread). Prints quantiles of both, each against
 * the mean of the two OLD servers. Build a tree with `npx tsc -p tsconfig.build.json --outDir DIR`.
 *
 * AB_NEW_ENV='NAME=value …' gives NEW extra settings (OLD and NEW may then be the same tree).
 * AB_LATENCY=1 adds, per round, a lone client's sequential writes (p50 and p99 in microseconds).
 *
 * Options (environment): AB_ROUNDS (default 20), AB_SECONDS per run (1.5), AB_WORKLOADS (read,write),
 * AB_SEED_TREE (a source tree whose store and seeder build the data, when OLD's schema is older).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import autocannon from 'autocannon'
import { SqliteStore } from '../src/store/sqlite.ts'
import { bodies, seedSqlite, type Workload } from './lib/dataset.ts'
import { probeLatency } from './lib/latency.ts'

const [oldDist, newDist] = process.argv.slice(2).map((d) => resolve(d))
if (oldDist === undefined || newDist === undefined) throw new Error('usage: bench:ab OLD_DIST NEW_DIST')
const ROUNDS = Number(process.env.AB_ROUNDS ?? 20)
const SECONDS = Number(process.env.AB_SECONDS ?? 1.5)
const WORKLOADS = (process.env.AB_WORKLOADS ?? 'read,write').split(',').filter(Boolean) as Workload[]
const VARIANTS = { old: oldDist, new: newDist, old2: oldDist }
const LATENCY = process.env.AB_LATENCY === '1'
// AB_NEW_ENV='NAME=value …': settings for NEW only, to measure a setting with OLD and NEW the same tree.
const newEnv = Object.fromEntries(
  (process.env.AB_NEW_ENV ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
)

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  const address = server.address()
  await new Promise((ok) => server.close(ok))
  return typeof address === 'object' && address !== null ? address.port : 0
}

/** CPU time of every thread of a process so far, in microseconds. */
function cpuMicros(pid: number): number {
  let ns = 0
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0])
    } catch {} // a thread that ended meanwhile
  }
  return ns / 1000
}

const load = (url: string, next: () => string, seconds: number, overallRate?: number) =>
  autocannon({
    url: `${url}/identify`,
    connections: overallRate ? 10 : 50,
    duration: seconds,
    ...(overallRate ? { overallRate } : {}),
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: next() }),
      },
    ],
  })

const dir = mkdtempSync(join(tmpdir(), 'identity-ab-'))
// AB_SEED_TREE: seed with that source tree's store and seeder, for an OLD on an older schema (the
// NEW server migrates the copy it is given at start, as an upgrade would).
const seedTree = process.env.AB_SEED_TREE
const seeder = seedTree
  ? {
      Store: (await import(resolve(seedTree, 'src/store/sqlite.ts'))).SqliteStore as typeof SqliteStore,
      seed: (await import(resolve(seedTree, 'bench/lib/dataset.ts'))).seedSqlite as typeof seedSqlite,
    }
  : { Store: SqliteStore, seed: seedSqlite }
const seedStore = new seeder.Store({ path: join(dir, 'seed.db') })
const identities = seeder.seed(seedStore.db, 100_000)
seedStore.db.pragma('wal_checkpoint(TRUNCATE)')
await seedStore.close()

const servers: Record<string, { child: ChildProcess; url: string }> = {}
try {
  for (const [name, dist] of Object.entries(VARIANTS)) {
    const path = join(dir, `${name}.db`)
    copyFileSync(join(dir, 'seed.db'), path)
    const port = await freePort()
    const child = spawn('taskset', ['-c', '1', process.execPath, join(dist, 'server.js')], {
      env: {
        ...process.env,
        DATABASE_URL: `sqlite:${path}`,
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'info',
        ...(name === 'new' ? newEnv : {}),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    const url = `http://127.0.0.1:${port}`
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${url}/readyz`)).status === 200) break
      } catch {}
      if (i > 200) throw new Error(`${dist} did not start`)
      await sleep(100)
    }
    servers[name] = { child, url }
  }

  const results = Object.fromEntries(
    WORKLOADS.map((w) => [
      w,
      Object.fromEntries(Object.keys(VARIANTS).map((n) => [n, { rps: [] as number[], cpu: [] as number[] }])),
    ]),
  )
  const latency = Object.fromEntries(
    Object.keys(VARIANTS).map((n) => [n, { p50: [] as number[], p99: [] as number[] }]),
  )
  let tag = 1000
  for (const w of WORKLOADS) for (const s of Object.values(servers)) await load(s.url, bodies(w, identities, tag++), 1)
  for (let round = 0; round < ROUNDS; round++) {
    const names = round % 2 === 0 ? Object.keys(servers) : Object.keys(servers).reverse()
    for (const w of WORKLOADS) {
      for (const name of names) {
        const s = servers[name] as { child: ChildProcess; url: string }
        const saturated = await load(s.url, bodies(w, identities, tag++), SECONDS)
        const before = cpuMicros(s.child.pid as number)
        const fixed = await load(s.url, bodies(w, identities, tag++), SECONDS, 2000)
        const slot = results[w]?.[name] as { rps: number[]; cpu: number[] }
        slot.rps.push(saturated.requests.average)
        slot.cpu.push((cpuMicros(s.child.pid as number) - before) / fixed.requests.total)
      }
    }
    if (LATENCY) {
      for (const name of names) {
        const s = servers[name] as { child: ChildProcess; url: string }
        const { p50, p99 } = await probeLatency(s.url, bodies('write', identities, tag++), 1000)
        latency[name]?.p50.push(p50)
        latency[name]?.p99.push(p99)
      }
    }
    console.error(`round ${round + 1}/${ROUNDS}`)
  }

  const at = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.round((xs.length - 1) * q)] as number
  for (const [w, r] of Object.entries(results)) {
    const { old, new: fresh, old2 } = r as Record<'old' | 'new' | 'old2', { rps: number[]; cpu: number[] }>
    for (const q of [0.1, 0.25, 0.5]) {
      const base = (at(old.cpu, q) + at(old2.cpu, q)) / 2
      console.log(
        `${w} CPU µs/req q${q}: old ${at(old.cpu, q).toFixed(1)}, old2 ${at(old2.cpu, q).toFixed(1)}, new ${at(fresh.cpu, q).toFixed(1)}` +
          ` → new/old ${(at(fresh.cpu, q) / base).toFixed(3)} (noise old2/old ${(at(old2.cpu, q) / at(old.cpu, q)).toFixed(3)})`,
      )
    }
    for (const q of [0.9, 0.75, 0.5]) {
      const base = (at(old.rps, q) + at(old2.rps, q)) / 2
      console.log(
        `${w} req/s q${q}: old ${Math.round(at(old.rps, q))}, old2 ${Math.round(at(old2.rps, q))}, new ${Math.round(at(fresh.rps, q))}` +
          ` → new/old ${(at(fresh.rps, q) / base).toFixed(3)}`,
      )
    }
  }
  if (LATENCY) {
    for (const stat of ['p50', 'p99'] as const) {
      const median = (name: string) => at(latency[name]?.[stat] ?? [], 0.5)
      const base = (median('old') + median('old2')) / 2
      console.log(
        `write c=1 ${stat} µs (median of rounds): old ${median('old')}, old2 ${median('old2')}, new ${median('new')}` +
          ` → new/old ${(median('new') / base).toFixed(3)}`,
      )
    }
  }
} finally {
  for (const s of Object.values(servers)) s.child.kill('SIGTERM')
  await sleep(500)
  rmSync(dir, { recursive: true, force: true })
}
