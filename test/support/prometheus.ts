/**
 * Reading `/metrics` the way Prometheus would: the text is parsed by a real parser
 * (parse-prometheus-text-format, prom2json's format), then samples are looked up by name and labels.
 * That parser folds the series of a labelled histogram together, so tests read histograms from the
 * registry (`histogramCount`) and counters and gauges from the text.
 *
 * @example
 * const before = await scrape(app)
 * // … requests …
 * assert.equal(counterDelta(before, await scrape(app), 'http_requests_total', { route: '/identify' }), 3)
 */
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import parse, { type MetricFamily } from 'parse-prometheus-text-format'
import type { Histogram, Registry } from 'prom-client'

export type Families = MetricFamily[]

export async function scrape(app: FastifyInstance, headers: Record<string, string> = {}): Promise<Families> {
  const res = await app.inject({ url: '/metrics', headers })
  assert.equal(res.statusCode, 200, res.body)
  assert.match(res.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/)
  return parse(res.body)
}

/** The value of the one sample of `name` whose labels include `labels`, summed if several match. */
export function value(families: Families, name: string, labels: Record<string, string> = {}): number {
  const family = families.find((f) => f.name === name)
  if (family === undefined) return 0
  let total = 0
  for (const sample of family.metrics) {
    if (Object.entries(labels).every(([k, v]) => sample.labels?.[k] === v)) total += Number(sample.value ?? 0)
  }
  return total
}

export function counterDelta(
  before: Families,
  after: Families,
  name: string,
  labels: Record<string, string> = {},
): number {
  return value(after, name, labels) - value(before, name, labels)
}

/** Every label value in the exposition, for checks that no personal data leaks into labels. */
export function labelValues(families: Families): string[] {
  return families.flatMap((f) => f.metrics.flatMap((s) => Object.values(s.labels ?? {})))
}

/** The observation count of one labelled histogram series, from the registry itself. */
export async function histogramCount(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = registry.getSingleMetric(name) as Histogram | undefined
  assert.ok(metric, `${name} is registered`)
  const { values } = await metric.get()
  const match = values.find(
    (v) => v.metricName === `${name}_count` && Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l),
  )
  return match?.value ?? 0
}
