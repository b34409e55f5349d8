/**
 * One worker thread for policy generation (generate-work.ts), started on the first request and
 * stopped after a minute idle. Requests queue in the worker's message port, one at a time: a
 * generation is seconds of CPU, and running two at once on Central's machine would only slow
 * both. The worker never keeps the process alive.
 */
import type { Worker } from 'node:worker_threads';
import { spawnModuleWorker } from '../../util/ts-worker.js';
import type { GenerateInput, GenerateOutcome } from './generate-work.js';

const IDLE_MS = 60_000;

interface Pending { resolve: (o: GenerateOutcome) => void; reject: (e: Error) => void }

export class GeneratePool {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | undefined;

  run(input: GenerateInput): Promise<GenerateOutcome> {
    const worker = this.worker ?? this.start();
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const id = this.nextId++;
    return new Promise<GenerateOutcome>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, input });
    });
  }

  async close(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }

  private start(): Worker {
    const worker = spawnModuleWorker(new URL('./generate-worker', import.meta.url));
    worker.unref();
    worker.on('message', (msg: { id: number; outcome?: GenerateOutcome; error?: string }) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error !== undefined) p.reject(new Error(`policy generation failed: ${msg.error}`));
      else p.resolve(msg.outcome!);
      if (!this.pending.size) this.armIdle();
    });
    const fail = (e: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`policy generation worker exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }

  private armIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.close(), IDLE_MS);
    this.idleTimer.unref();
  }
}
