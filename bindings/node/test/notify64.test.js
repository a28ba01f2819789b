'use strict';
// 64 tickets waiting on the main thread, notified by a head in another thread (a Worker on
// the same stage): every notification is seen exactly once, by its own ticket, over three
// rounds. The head waits for the 64 to be in line (the stage's waiter count) before each
// round; nothing waits for a time.
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { Stage, Outcome } = require('..');

const N = 64;
const ROUNDS = 3;

const headThread = `
const { workerData, parentPort } = require('node:worker_threads');
const { Stage, Outcome } = require(workerData.module);
const { N, ROUNDS } = workerData;
async function waitWaiters(stage, n) {
  const start = Date.now();
  while (stage.stats().waiters !== n) {
    if (Date.now() - start > 30000) throw new Error('never reached ' + n + ' waiters');
    await new Promise((r) => setTimeout(r, 1));
  }
}
(async () => {
  const stage = Stage.attach(workerData.stage);
  const head = stage.ticket('head');
  if (await head.enter() !== Outcome.HEAD) throw new Error('the head thread did not head');
  parentPort.postMessage('heading');
  for (let r = 0; r < ROUNDS; r++) {
    await waitWaiters(stage, N);
    for (let i = 0; i < N; i++) if (!stage.notify('t' + i)) throw new Error('t' + i + ' not held');
  }
  await waitWaiters(stage, N);
  stage.close();
  head.exit();
  head.free();
})().catch((e) => { throw e; });
`;

test('64 tickets notified from a head in another thread, each notification seen once', async () => {
  const stage = new Stage();
  const worker = new Worker(headThread, {
    eval: true,
    workerData: { module: path.join(__dirname, '..', 'exitleft.js'), stage: stage.share(), N, ROUNDS },
  });
  const failed = new Promise((_, reject) => worker.on('error', reject));
  const exited = new Promise((resolve) => worker.on('exit', resolve));
  await Promise.race([new Promise((resolve) => worker.once('message', resolve)), failed]);

  const seen = new Array(N).fill(0);
  const tickets = [];
  const loops = [];
  for (let i = 0; i < N; i++) {
    const t = stage.ticket(`t${i}`);
    tickets.push(t);
    loops.push((async () => {
      for (;;) {
        const o = await t.enter();
        if (o === Outcome.TOKEN) seen[i]++;
        else if (o === Outcome.CLOSED) return;
        else throw new Error(`t${i} got ${o}`);
      }
    })());
  }
  await Promise.race([Promise.all(loops), failed]);
  assert.strictEqual(await exited, 0);
  assert.deepStrictEqual(seen, new Array(N).fill(ROUNDS));
  const st = stage.stats();
  assert.strictEqual(st.notify_delivered, N * ROUNDS); // each woke its waiter
  assert.strictEqual(st.notify_recorded, 0);
  assert.strictEqual(st.notify_unowned, 0);
  for (const t of tickets) t.free();
  stage.free();
});
