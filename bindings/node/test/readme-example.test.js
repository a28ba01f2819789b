'use strict';
// The README's C example (the block after `<!-- example -->`), in JavaScript.
// Two tickets, one stage: the head routes an item to the other ticket's token.
const test = require('node:test');
const assert = require('node:assert');
const { Stage, Outcome } = require('..');

test('README example', async () => {
  const stage = new Stage();
  const alice = stage.ticket('alice');
  const bob = stage.ticket('bob');

  async function bobMain() {
    // Look in the mailbox; finding nothing, wait on the stage until something is ours.
    let rc;
    while ((rc = await bob.enter()) === Outcome.HEAD) bob.exit(); // nothing to read: let alice head
    const item = rc === Outcome.TOKEN ? bob.take() : undefined;
    if (item !== undefined) console.log(`bob got: ${item}`);
    return item;
  }

  // alice heads first; bob's enter then waits in line.
  assert.strictEqual(await alice.enter(), Outcome.HEAD);
  const bobDone = bobMain();
  // As head, alice "reads the resource" and routes what belongs to bob: only bob wakes.
  assert.strictEqual(stage.deliver('bob', 'hello from the head'), true);
  alice.exit();
  assert.strictEqual(await bobDone, 'hello from the head');
  alice.free();
  bob.free();
  stage.free();
});
