/**
 * The image-trust cache: least recently used goes first, entries expire, counters count,
 * and timeLeft counts nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TtlLruCache } from '../../src/admission/image-trust-cache.js';

test('a full cache drops the least recently used entry; a hit makes an entry recent', () => {
  const c = new TtlLruCache<string>(2, () => 0);
  c.set('a', 'A', 1000);
  c.set('b', 'B', 1000);
  assert.equal(c.get('a'), 'A'); // a is now more recent than b
  c.set('c', 'C', 1000);
  assert.equal(c.get('b'), undefined, 'b was the least recently used');
  assert.equal(c.get('a'), 'A');
  assert.equal(c.get('c'), 'C');
  c.set('a', 'A2', 1000); // replacing an entry evicts nothing and makes it recent
  c.set('d', 'D', 1000);
  assert.deepEqual([c.get('a'), c.get('c'), c.get('d')], ['A2', undefined, 'D']);
  assert.deepEqual(c.stats(), { hits: 5, misses: 2, evictions: 2, expirations: 0, size: 2, max: 2 });
});

test('entries expire; timeLeft reads without counting', () => {
  let t = 0;
  const c = new TtlLruCache<string>(10, () => t);
  c.set('a', 'A', 100);
  c.set('never', 'N', 0);
  assert.equal(c.timeLeft('a'), 100);
  assert.equal(c.timeLeft('never'), undefined, 'a TTL of 0 stores nothing');
  t = 99;
  assert.equal(c.timeLeft('a'), 1);
  assert.equal(c.get('a'), 'A');
  t = 100;
  assert.equal(c.timeLeft('a'), undefined);
  assert.equal(c.get('a'), undefined);
  assert.deepEqual(c.stats(), { hits: 1, misses: 1, evictions: 0, expirations: 1, size: 0, max: 10 });
});
