/**
 * The bus path's long synchronous stretches are cut into slices (src/central/bus/slices.ts):
 * what waits on the event loop — here a timer and a socket read standing for an API request —
 * runs between two slices of one long piece of work, not after it.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { SLICE_MS, Slices } from '../../src/central/bus/slices.js';

/** Work that keeps the thread for `ms` in small synchronous steps, passing a slice point after each. */
async function longWork(ms: number, slices: Slices | undefined, during: () => void): Promise<void> {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    const step = performance.now();
    while (performance.now() - step < 0.2) { /* a parse, a row */ }
    await slices?.pass();
    during();
  }
}

test('a timer and an HTTP request are served between slices of long work, not after it', async () => {
  const server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  try {
    for (const sliced of [false, true]) {
      let timerRan = false;
      let answered = false;
      let timerDuring = false;
      let answeredDuring = false;
      setTimeout(() => (timerRan = true), 0);
      const request = fetch(url).then((r) => r.text()).then(() => (answered = true));
      // Long compared with a slice: the request's connect, send and answer each need a turn.
      await longWork(SLICE_MS * 100, sliced ? new Slices() : undefined, () => {
        timerDuring ||= timerRan;
        answeredDuring ||= answered;
      });
      await request;
      assert.equal(timerDuring, sliced, `timer ran during the work (sliced: ${sliced})`);
      assert.equal(answeredDuring, sliced, `request answered during the work (sliced: ${sliced})`);
    }
  } finally {
    server.close();
  }
});
