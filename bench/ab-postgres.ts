/**
 * `npm run bench:ab-postgres -- OLD_DIST NEW_DIST [...]`: builds of the service side by side on
 * PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres). Each build
 * gets its own fresh database seeded with the same 100,000 contacts, and the builds are alternated
 * per workload in AB_ROUNDS rounds of AB_SECONDS at concurrency AB_CONNECTIONS, so that the
 * machine's drift hits them alike. Prints each round's req/s and the median, and the serialization
 * retries each server counted (`store_retries_total`). Build a tree with
 * `npx tsc -p tsconfig.build.json --outDir DIR`.
 *
 * Options (environment): AB_ROUNDS (3), AB_SECONDS (4), AB_CONNECTIONS (50), AB_WORKLOADS
 * (read,write,mixed).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import autocannon from 'autocannon'
import pg from 'pg'
import { bodies, identitiesFor, seedPostgresSql, type Workload } from './lib/dataset.ts'

const dists = process.argv.slice(2).map((d) => resolve(d))
if (dists.length === 0) throw new Error('usage: bench:ab-postgres OLD_DIST NEW_DIST')
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const ROUNDS = Number(process.env.AB_ROUNDS ?? 3)
const SECONDS = Number(process.env.AB_SECONDS ?? 4)
const CONNECTIONS = Number(process.env.AB_CONNECTIONS ?? 50)
const WORKLOADS = (process.env.AB_WORKLOADS ?? 'read,write,mixed').split(',').filter(Boolean) as Workload[]

const databaseUrl = (name: string) => {
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  return url.toString()
}

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await client.query(sql)
  } finally {
    await client.end()
  }
}

interface Server {
  dist: string
  url: string
  child: ChildProcess
  database: string
}

const identities = identitiesFor(100_000)
const servers: Server[] = []
try {
  for (const [i, dist] of dists.entries()) {
    const database = `identity_ab_${process.pid}_${i}`
    await query(ADMIN_URL, `CREATE DATABASE ${database}`)
    const port = 5600 + i
    const child = spawn(process.execPath, [resolve(dist, 'server.js')], {
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl(database),
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'info',
        METRICS_PUBLIC: 'true',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    servers.push({ dist, url: `http://127.0.0.1:${port}`, child, database })
    // The server creates the schema; the data goes in once it answers.
    for (let k = 0; ; k++) {
      const up = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
      if (up) break
      if (k > 150) throw new Error(`${dist} did not start`)
      await sleep(100)
    }
    await query(databaseUrl(database), seedPostgresSql(identities))
  }

  const results = new Map<string, number[]>()
  let run = 0
  for (let round = 0; round < ROUNDS; round++) {
    for (const workload of WORKLOADS) {
      for (const server of servers) {
        const next = bodies(workload, identities, ++run)
        const out = await autocannon({
          url: `${server.url}/identify`,
          method: 'POST',
          connections: CONNECTIONS,
          duration: SECONDS,
          headers: { 'content-type': 'application/json' },
          requests: [{ setupRequest: (req) => ({ ...req, body: next() }) }],
        })
        if (out.non2xx > 0) console.error(`${server.dist} ${workload}: ${out.non2xx} answers were not 2xx`)
        const key = `${workload}\t${server.dist}`
        results.set(key, [...(results.get(key) ?? []), Math.round(out.requests.average)])
      }
    }
  }
  for (const [key, rps] of results) {
    const median = [...rps].sort((a, b) => a - b)[rps.length >> 1]
    console.log(`${key}\treq/s ${rps.join(' / ')}\tmedian ${median}`)
  }
  for (const server of servers) {
    const metrics = await fetch(`${server.url}/metrics`).then((r) => r.text())
    const retries = metrics
      .split('\n')
      .filter((l) => l.startsWith('store_retries_total'))
      .map((l) => l.replace(/^store_retries_total\{engine="postgres",reason="([^"]+)"\} /, '$1 '))
    console.log(`${server.dist}\tretries: ${retries.join(', ') || 'none'}`)
  }
} finally {
  for (const server of servers) {
    server.child.kill('SIGTERM')
    await new Promise((ok) => server.child.once('exit', ok))
    await query(ADMIN_URL, `DROP DATABASE IF EXISTS ${server.database} WITH (FORCE)`)
  }
}
