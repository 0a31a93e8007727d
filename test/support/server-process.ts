/**
 * Starts the real server (`src/server.ts`) as a child process on an ephemeral port, for tests that
 * need separate processes: several instances on one database, `kill -9`, signals.
 *
 * @example
 * const server = await startServer({ DATABASE_URL: db.databaseUrl })
 * await fetch(`${server.url}/healthz`)
 * await server.stop()
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const SERVER = fileURLToPath(new URL('../../src/server.ts', import.meta.url))

export interface ServerProcess {
  readonly child: ChildProcess
  readonly url: string
  readonly port: number
  /** Every log line the process printed so far, parsed (non-JSON lines as `{ raw }`). */
  readonly logs: Record<string, unknown>[]
  /** SIGTERM, then waits for exit; resolves with the exit code. */
  stop(): Promise<number | null>
  /** SIGKILL (`kill -9`), then waits for exit. */
  kill(): Promise<void>
}

export async function startServer(env: Record<string, string>, timeoutMs = 20000): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: Record<string, unknown>[] = []
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = once(child, 'exit')
  const port = await new Promise<number>((resolve, reject) => {
    let buffer = ''
    const timer = setTimeout(() => {
      // A server that never got ready must not outlive the test and hang the runner.
      child.kill('SIGKILL')
      reject(new Error(`server did not start in ${timeoutMs} ms\n${stderr}`))
    }, timeoutMs)
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString()
      let newline = buffer.indexOf('\n')
      while (newline !== -1) {
        const line = buffer.slice(0, newline)
        buffer = buffer.slice(newline + 1)
        newline = buffer.indexOf('\n')
        let entry: Record<string, unknown>
        try {
          entry = JSON.parse(line)
        } catch {
          entry = { raw: line }
        }
        logs.push(entry)
        if (entry.msg === 'identity service ready') {
          clearTimeout(timer)
          resolve(entry.port as number)
        }
      }
    })
    void exited.then(([code]) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code} before it was ready\n${stderr}`))
    })
  })
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    logs,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      child.kill('SIGTERM')
      const [code] = await exited
      return code as number | null
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGKILL')
      await exited
    },
  }
}
