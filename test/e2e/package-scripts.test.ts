/**
 * The package scripts as the README tells people to use them: `npm start` hands signals to the
 * server (issue 11, item 14: npm forwards SIGTERM to its script's process, which must be node itself,
 * not a shell that dies and leaves node orphaned), and `npm run build` leaves `dist/cli.js`
 * executable (item 18).
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { statSync } from 'node:fs'
import { connect } from 'node:net'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { sqliteEngine } from '../support/engines.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

async function listening(port: number): Promise<boolean> {
  const socket = connect(port, '127.0.0.1')
  try {
    await once(socket, 'connect')
    return true
  } catch {
    return false
  } finally {
    socket.destroy()
  }
}

test('SIGTERM to the npm process stops the server it started', { timeout: 120000 }, async (t) => {
  const db = await sqliteEngine.open({ file: true })
  t.after(() => db.drop())
  const npm = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', DATABASE_URL: db.databaseUrl, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.after(() => npm.kill('SIGKILL'))
  let stderr = ''
  npm.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  let out = ''
  const ready = await new Promise<{ port: number; pid: number }>((resolve, reject) => {
    npm.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      for (const line of out.split('\n')) {
        if (!line.includes('identity service ready')) continue
        const entry = JSON.parse(line) as { port: number; pid: number }
        resolve(entry)
      }
    })
    npm.once('exit', (code) => reject(new Error(`npm start exited with ${code}\n${out}\n${stderr}`)))
  })
  // Whatever stops the server must not be mistaken for npm stopping (kill it in any case afterwards).
  t.after(() => {
    try {
      process.kill(ready.pid, 'SIGKILL')
    } catch {}
  })
  assert.ok(await listening(ready.port))

  const exited = once(npm, 'exit')
  npm.kill('SIGTERM')
  await exited
  let stopped = false
  for (let i = 0; i < 100 && !stopped; i++) {
    stopped = !(await listening(ready.port))
    if (!stopped) await new Promise((r) => setTimeout(r, 50))
  }
  assert.ok(stopped, `the server (pid ${ready.pid}) still listens after npm was stopped`)
  assert.match(out, /"msg":"shutting down"/, 'the server itself got the signal and shut down gracefully')
})

test('npm run build leaves dist/cli.js executable, so ./dist/cli.js runs as the identity command', {
  timeout: 120000,
}, () => {
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, encoding: 'utf8' })
  assert.equal(build.status, 0, build.stderr)
  const mode = statSync(`${ROOT}/dist/cli.js`).mode
  assert.equal(mode & 0o111, 0o111, `dist/cli.js has mode ${(mode & 0o777).toString(8)}`)
  const help = spawnSync(`${ROOT}/dist/cli.js`, ['--help'], { cwd: ROOT, encoding: 'utf8' })
  assert.equal(help.status, 0, help.stderr)
  assert.match(help.stdout, /Usage: identity/)
})
