/**
 * The fleet publishers' cheap event maker (bench/fleet/model.ts NodeEventMaker) makes exactly
 * the events nodeEvent makes from the same seed — the same ids, kinds, findings, flows and
 * random draws — so making them cheaper did not change what Central receives.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NodeEventMaker, imageCount, nodeEvent, podOf, podsByNode, prng } from '../../bench/fleet/model.js';

test('NodeEventMaker gives nodeEvent\'s events, draw for draw', () => {
  for (const flowShare of [0, 0.3, 1]) {
    const size = { nodes: 40, deployments: 300, seed: 5 };
    const byNode = podsByNode(size);
    const images = imageCount(size.deployments);
    const r1 = prng(99);
    const r2 = prng(99);
    const maker = new NodeEventMaker('run', size.deployments, r2, { flowShare });
    const now = new Date('2026-12-07T19:00:00.123Z');
    const kinds = new Map<string, number>();
    for (let k = 0; k < 6000; k++) {
      const node = k % size.nodes;
      const pods = byNode[node]!;
      if (!pods.length) continue;
      const want = nodeEvent('run', node, k, pods, (i) => podOf(i, Math.floor(r1() * 3), images), size.deployments, r1, { flowShare }, now);
      const got = maker.event(node, k, pods, now.toISOString());
      assert.deepEqual(got, want, `event ${k} (flow share ${flowShare})`);
      const kind = want.type === 'flow' ? 'flow' : want.finding!.id;
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    // Every kind of event the mix has was compared, not only one.
    if (flowShare === 0.3) assert.equal(kinds.size, 8, [...kinds.keys()].join(', '));
  }
});
