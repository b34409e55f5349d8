/**
 * The metrics options of the sensor, the engine proxy and admission: where to serve
 * (`--metrics-listen`), the scrape token every request must carry (`--metrics-token-file`, or
 * GATEHOUSE_METRICS_TOKEN), and HTTPS for a non-loopback address (`--metrics-tls-cert/-key`).
 * Prometheus sends the token with `authorization: {credentials_file: FILE}`.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { describeError, UserError } from '../util/errors.js';
import { isLoopbackHost, parseMetricsListen, type MetricsServeOptions } from '../util/metrics.js';

export interface MetricsCliOptions {
  metricsListen?: string;
  metricsTokenFile?: string;
  metricsTlsCert?: string;
  metricsTlsKey?: string;
}

/** Shorter tokens are refused: the token is all that guards the endpoint. */
const MIN_TOKEN_LENGTH = 16;

/** Adds the token options (and, unless the component serves metrics on its own listener, --metrics-listen and TLS). */
export function addMetricsOptions(cmd: Command, { ownListener = false } = {}): Command {
  if (!ownListener) {
    cmd
      .option('--metrics-listen <host:port>', 'serve Prometheus metrics at HOST:PORT/metrics (needs a scrape token; HTTPS with --metrics-tls-cert, plain HTTP on loopback only)')
      .option('--metrics-tls-cert <file>', 'certificate (PEM) for the metrics listener')
      .option('--metrics-tls-key <file>', 'key (PEM) for the metrics listener');
  }
  return cmd.option('--metrics-token-file <file>', 'the scrape token (one line) that GET /metrics requires as a bearer token (default $GATEHOUSE_METRICS_TOKEN)');
}

/** The scrape token, or undefined when none is configured. */
export function metricsToken(o: MetricsCliOptions, env: NodeJS.ProcessEnv = process.env): string | undefined {
  let token: string | undefined;
  if (o.metricsTokenFile) {
    try {
      token = readFileSync(o.metricsTokenFile, 'utf8').trim();
    } catch (e) {
      throw new UserError(`--metrics-token-file ${o.metricsTokenFile}: ${describeError(e)}`, 'usage');
    }
  } else token = env.GATEHOUSE_METRICS_TOKEN?.trim() || undefined;
  if (token !== undefined && (token.length < MIN_TOKEN_LENGTH || /\s/.test(token))) {
    throw new UserError(`the metrics scrape token must be one word of at least ${MIN_TOKEN_LENGTH} characters (e.g. \`openssl rand -hex 32\`)`, 'usage');
  }
  return token;
}

/** What serveMetrics needs, or undefined without --metrics-listen; checks everything before anything listens. */
export function metricsServeOptions(o: MetricsCliOptions, env: NodeJS.ProcessEnv = process.env): MetricsServeOptions | undefined {
  if (o.metricsListen === undefined) {
    if (o.metricsTlsCert || o.metricsTlsKey) throw new UserError('--metrics-tls-cert/--metrics-tls-key go with --metrics-listen', 'usage');
    return undefined;
  }
  const at = parseMetricsListen(o.metricsListen);
  const token = metricsToken(o, env);
  if (!token) throw new UserError('--metrics-listen needs a scrape token: --metrics-token-file FILE or GATEHOUSE_METRICS_TOKEN (every API needs a token)', 'usage');
  if (!!o.metricsTlsCert !== !!o.metricsTlsKey) throw new UserError('--metrics-tls-cert and --metrics-tls-key go together', 'usage');
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new UserError(`${what} ${file}: ${describeError(e)}`, 'usage');
    }
  };
  const tls = o.metricsTlsCert && o.metricsTlsKey ? { cert: read(o.metricsTlsCert, '--metrics-tls-cert'), key: read(o.metricsTlsKey, '--metrics-tls-key') } : undefined;
  if (!tls && !isLoopbackHost(at.host)) throw new UserError(`--metrics-listen ${o.metricsListen}: plain HTTP is served on a loopback address only; give --metrics-tls-cert and --metrics-tls-key`, 'usage');
  return { ...at, token, ...(tls ? { tls } : {}) };
}
