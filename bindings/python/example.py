"""Two threads, one stage: the head routes an object to the other thread's token. Then the
same with bob as an asyncio task, waiting in line without a thread (libexitleft 1.2)."""
import asyncio
import threading

import exitleft
from exitleft import Outcome

with exitleft.Stage() as stage, stage.ticket(b"alice") as alice, \
        stage.ticket(b"bob") as bob:

    def bob_main():
        # Wait on the stage until something is ours (heading meanwhile is not our job).
        while (outcome := bob.enter()) is Outcome.HEAD:
            bob.exit()
        if outcome is Outcome.TOKEN:
            print("bob got:", bob.take())

    assert alice.enter() is Outcome.HEAD    # alice heads; bob will wait in line
    worker = threading.Thread(target=bob_main)
    worker.start()
    # As head, alice reads the resource and routes what belongs to bob: only bob wakes.
    # Whether bob is in line yet or not does not matter: the item waits in his mailbox,
    # and his enter returns TOKEN either way.
    stage.deliver(b"bob", {"hello": "from the head"})
    alice.exit()
    worker.join()

    async def bob_task():
        # The same wait as bob_main's, but the event loop runs other tasks meanwhile.
        while (outcome := await bob.enter_async()) is Outcome.HEAD:
            bob.exit()
        if outcome is Outcome.TOKEN:
            print("bob's task got:", bob.take())

    async def alice_and_bob():
        assert alice.enter() is Outcome.HEAD
        task = asyncio.create_task(bob_task())
        await asyncio.sleep(0)  # bob's task gets in line (or not: the item waits anyway)
        stage.deliver(b"bob", {"hello": "from the head, to a task"})
        alice.exit()
        await task

    asyncio.run(alice_and_bob())
    print("heads:", stage.stats()["heads"])
