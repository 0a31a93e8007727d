/**
 * Latency of one client's sequential \`POST /identify\` requests over one keep-alive connection, in
 * microseconds (autocannon reports whole milliseconds), after 500 warm-up requests.
 */
import { Agent, request } from 'node:http'

export async function probeLatency(
  url: string,
  next: () => string,
  count = 4000,
): Promise<{ p50: number; p99: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const one = (body: string) =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        `${url}/identify`,
        { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
        (res) => {
          res.resume()
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))))
        },
      )
      req.on('error', reject)
      req.end(body)
    })
  for (let i = 0; i < 500; i++) await one(next())
  const samples: number[] = []
  for (let i = 0; i < count; i++) {
    const body = next()
    const t0 = process.hrtime.bigint()
    await one(body)
    samples.push(Number(process.hrtime.bigint() - t0) / 1000)
  }
  agent.destroy()
  samples.sort((a, b) => a - b)
  const at = (q: number) => Math.round(samples[Math.floor(q * (samples.length - 1))] as number)
  return { p50: at(0.5), p99: at(0.99) }
}
