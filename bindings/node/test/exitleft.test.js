'use strict';
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { Stage, Outcome, version, _poller } = require('..');

function rejectsWith(code, fn) {
  assert.throws(fn, (e) => e instanceof Error && e.code === code && typeof e.errno === 'number');
}

test('tokens are exclusive; errors carry the errno name', async () => {
  const stage = new Stage();
  const a = stage.ticket('a');
  rejectsWith('EEXIST', () => stage.ticket(Buffer.from('a'))); // same bytes, same token
  rejectsWith('EINVAL', () => stage.ticket(''));
  rejectsWith('EINVAL', () => stage.ticket(Buffer.alloc(129)));
  rejectsWith('EPERM', () => a.exit());
  assert.strictEqual(await a.enter(), Outcome.HEAD);
  await assert.rejects(a.enter(), (e) => e.code === 'EDEADLK');
  a.free(); // exits first
  const again = stage.ticket('a');
  assert.strictEqual(await again.enter(), Outcome.HEAD);
  again.free();
  rejectsWith('EBUSY', () => {
    const t = stage.ticket('t');
    try { stage.free(); } finally { t.free(); }
  });
  stage.free();
  assert.match(version(), /^1\./);
});

test('promotion is first in, first out', async () => {
  const stage = new Stage();
  const head = stage.ticket('head');
  assert.strictEqual(await head.enter(), Outcome.HEAD);
  const order = [];
  const tickets = [0, 1, 2, 3, 4].map((i) => stage.ticket(`w${i}`));
  // Each enter is in line when enter() returns its promise (exitleft_enter_start).
  const done = tickets.map((t, i) => t.enter().then((o) => {
    assert.strictEqual(o, Outcome.HEAD);
    order.push(i);
    t.exit();
  }));
  assert.strictEqual(stage.stats().waiters, 5);
  head.exit();
  await Promise.all(done);
  assert.deepStrictEqual(order, [0, 1, 2, 3, 4]);
  for (const t of [head, ...tickets]) t.free();
  stage.free();
});

test('a notification before enter is kept, and coalesced', async () => {
  const stage = new Stage();
  const head = stage.ticket('head');
  const me = stage.ticket('me');
  assert.strictEqual(await head.enter(), Outcome.HEAD);
  assert.strictEqual(stage.notify('me'), true);
  assert.strictEqual(stage.notify('me'), true);
  assert.strictEqual(stage.notify('nobody'), false);
  assert.strictEqual(await me.enter(), Outcome.TOKEN);
  assert.strictEqual(await me.enter({ timeoutMs: 0 }), Outcome.TIMEOUT);
  // While waiting: only that ticket wakes.
  const other = stage.ticket('other');
  const o = other.enter({ timeoutMs: 60000 });
  const m = me.enter();
  stage.notify('me');
  assert.strictEqual(await m, Outcome.TOKEN);
  assert.strictEqual(stage.stats().waiters, 1);
  other.free(); // gives up its pending enter
  assert.strictEqual(await o, Outcome.TIMEOUT);
  me.free();
  head.free();
  stage.free();
});

test('timeouts', async () => {
  const stage = new Stage();
  const head = stage.ticket('head');
  const me = stage.ticket('me');
  assert.strictEqual(await head.enter(), Outcome.HEAD);
  assert.strictEqual(await me.enter({ timeoutMs: 0 }), Outcome.TIMEOUT);
  const t0 = Date.now();
  assert.strictEqual(await me.enter({ timeoutMs: 20 }), Outcome.TIMEOUT);
  assert.ok(Date.now() - t0 >= 19);
  assert.strictEqual(stage.stats().waiters, 0);
  head.exit();
  assert.strictEqual(await me.enter({ timeoutMs: 0 }), Outcome.HEAD); // no head: heads at once
  me.free();
  head.free();
  stage.free();
});

test('deliver keeps any JavaScript value on this side; take returns it in order', async () => {
  const stage = new Stage();
  const me = stage.ticket('me');
  const fn = () => 42;
  const values = [{ a: 1 }, fn, null, 0, 'text', [1, 2], Symbol.for('s')];
  for (const v of values) assert.strictEqual(stage.deliver('me', v), true);
  assert.strictEqual(stage.deliver('nobody', { lost: true }), false);
  assert.strictEqual(stage._items.size, values.length); // the undelivered one is not kept
  assert.throws(() => stage.deliver('me', undefined), TypeError);
  assert.strictEqual(await me.enter(), Outcome.TOKEN);
  for (const v of values) assert.strictEqual(me.take(), v);
  assert.strictEqual(me.take(), undefined);
  // A bounded mailbox refuses with ENOBUFS and keeps nothing.
  me.limit(1);
  stage.deliver('me', 'one');
  rejectsWith('ENOBUFS', () => stage.deliver('me', 'two'));
  assert.strictEqual(stage._items.size, 1);
  // Freed with items inside: they are dropped, nothing stays referenced.
  me.free();
  assert.strictEqual(stage._items.size, 0);
  stage.free();
});

test('a ticket of another thread takes a copy; a Worker delivers too', async () => {
  const stage = new Stage();
  const mine = stage.ticket('main');
  const worker = new Worker(`
    const { workerData, parentPort } = require('node:worker_threads');
    const { Stage } = require(workerData.module);
    const stage = Stage.attach(workerData.stage);
    const w = stage.ticket('w');
    parentPort.once('message', () => {
      const got = [w.take(), w.take()];
      stage.deliver('main', { from: 'the worker', bytes: Buffer.from('xyz') });
      w.free(); // nothing left in its mailbox: no ENOTEMPTY
      parentPort.postMessage(got);
    });
    parentPort.postMessage('ready');
  `, { eval: true, workerData: { module: path.join(__dirname, '..', 'exitleft.js'), stage: stage.share() } });
  try {
    const failed = new Promise((_, reject) => worker.on('error', reject));
    const message = () => Promise.race([new Promise((resolve) => worker.once('message', resolve)), failed]);
    assert.strictEqual(await message(), 'ready');
    const sent = { hello: 'worker', list: [1, 2, 3], when: new Date(0), map: new Map([[1, 'one']]) };
    assert.strictEqual(stage.deliver('w', sent), true);
    assert.strictEqual(stage._items.size, 0); // a copy is not kept on this side
    worker.postMessage('go');
    const [got, empty] = await message();
    assert.deepStrictEqual(got, sent);
    assert.strictEqual(empty, undefined);
    assert.deepStrictEqual(mine.take(), { from: 'the worker', bytes: Buffer.from('xyz') });
  } finally {
    await worker.terminate();
  }
  // Another handle in this thread is another side too: its ticket takes a copy, this
  // object's ticket the value itself. What cannot be copied is refused, delivering nothing.
  const other = Stage.attach(stage.share());
  const theirs = other.ticket('theirs');
  const value = { n: 1 };
  assert.strictEqual(stage.deliver('theirs', value), true);
  assert.strictEqual(stage.deliver('main', value), true);
  const copy = theirs.take();
  assert.notStrictEqual(copy, value);
  assert.deepStrictEqual(copy, value);
  assert.strictEqual(mine.take(), value);
  assert.throws(() => stage.deliver('theirs', () => 42), (e) => e.code === 'ERR_EXITLEFT_NOT_CLONEABLE');
  assert.throws(() => stage.deliver('theirs', Symbol.for('s')), (e) => e.code === 'ERR_EXITLEFT_NOT_CLONEABLE');
  assert.strictEqual(theirs.take(), undefined);
  theirs.free();
  mine.free();
  stage.free(); // every ticket freed, none of them busy or holding items
});

test('take() tells an item it cannot find from an empty mailbox', async () => {
  const stage = new Stage();
  const me = stage.ticket('me');
  stage.deliver('me', 'lost');
  stage._items.clear(); // as if C held an id that no value of this stage has
  assert.throws(() => me.take(), (e) => e.code === 'ERR_EXITLEFT_UNKNOWN_ITEM');
  assert.strictEqual(me.take(), undefined);
  me.free();
  stage.free();
});

test('close settles waiting enters with CLOSED and refuses tickets', async () => {
  const stage = new Stage();
  const head = stage.ticket('head');
  assert.strictEqual(await head.enter(), Outcome.HEAD);
  const ws = [1, 2, 3].map((i) => stage.ticket(`w${i}`));
  const outcomes = ws.map((w) => w.enter());
  stage.close();
  assert.deepStrictEqual(await Promise.all(outcomes), [Outcome.CLOSED, Outcome.CLOSED, Outcome.CLOSED]);
  rejectsWith('ECANCELED', () => stage.ticket('late'));
  assert.strictEqual(await ws[0].enter(), Outcome.CLOSED); // later enters too
  for (const t of [head, ...ws]) t.free();
  stage.free();
});

test('a failed wait gives every pending enter up; a decision made first is kept', async () => {
  const stage = new Stage();
  const head = stage.ticket('head');
  const next = stage.ticket('next');
  const told = stage.ticket('told');
  const idle = stage.ticket('idle');
  assert.strictEqual(await head.enter(), Outcome.HEAD);
  // No wait in flight (an earlier test's ends once woken); the next one fails when told to.
  while (_poller.inFlight) await new Promise((resolve) => setImmediate(resolve));
  const wait = _poller.wait;
  let failWait;
  _poller.wait = (epfd, events, maxEvents, callback) => {
    failWait = () => callback(new Error('injected failure'));
  };
  try {
    const entered = [next.enter(), told.enter(), idle.enter()];
    assert.strictEqual(stage.stats().waiters, 3);
    head.exit(); // next, first in line, is promoted: HEAD, decided but not collected
    assert.strictEqual(stage.notify('told'), true); // TOKEN, decided but not collected
    failWait();
    assert.strictEqual(await entered[0], Outcome.HEAD);
    assert.strictEqual(await entered[1], Outcome.TOKEN);
    await assert.rejects(entered[2], /injected failure/);
  } finally {
    _poller.wait = wait;
  }
  // Nobody is left in line, and no ticket is busy: each enters, exits and frees as usual.
  assert.strictEqual(stage.stats().waiters, 0);
  next.exit();
  assert.strictEqual(await idle.enter({ timeoutMs: 0 }), Outcome.HEAD);
  idle.exit();
  for (const t of [head, next, told, idle]) t.free();
  stage.free();
});

test('one ticket, one enter at a time', async () => {
  const stage = new Stage();
  const head = stage.ticket('head');
  const me = stage.ticket('me');
  assert.strictEqual(await head.enter(), Outcome.HEAD);
  const first = me.enter();
  await assert.rejects(me.enter(), (e) => e.code === 'EBUSY');
  stage.notify('me');
  assert.strictEqual(await first, Outcome.TOKEN);
  me.free();
  head.free();
  stage.free();
});
