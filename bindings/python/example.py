"""Two threads, one stage: the head routes an object to the other thread's token. Then the
same with bob as an asyncio task, waiting in line without a thread (libexitleft 1.2)."""
import asyncio
import threading

import exitleft
from exitleft import Outcome

with exitleft.Stage() as stage, stage.ticket(b"alice") as alice, \
        stage.ticket(b"bob") as bob:
    # What bob took, checked by the main thread: an assert in bob_main would fail only
    # bob's thread, and the example would pass all the same.
    got = []

    def bob_main():
        # Wait on the stage until something is ours (heading meanwhile is not our job).
        while (outcome := bob.enter()) is Outcome.HEAD:
            bob.exit()
        if outcome is Outcome.TOKEN:
            got.append(bob.take())
            print("bob got:", got[-1])

    assert alice.enter() is Outcome.HEAD    # alice heads; bob will wait in line
    worker = threading.Thread(target=bob_main)
    worker.start()
    # As head, alice reads the resource and routes what belongs to bob: only bob wakes.
    # Whether bob is in line yet or not does not matter: the item waits in his mailbox,
    # and his enter returns TOKEN either way.
    stage.deliver(b"bob", {"hello": "from the head"})
    alice.exit()
    worker.join()
    assert got == [{"hello": "from the head"}], f"bob got {got}"

    async def bob_task():
        # The same wait as bob_main's, but the event loop runs other tasks meanwhile.
        while (outcome := await bob.enter_async()) is Outcome.HEAD:
            bob.exit()
        item = bob.take() if outcome is Outcome.TOKEN else None
        print("bob's task got:", item)
        return item

    async def alice_and_bob():
        assert alice.enter() is Outcome.HEAD
        task = asyncio.create_task(bob_task())
        await asyncio.sleep(0)  # bob's task gets in line (or not: the item waits anyway)
        stage.deliver(b"bob", {"hello": "from the head, to a task"})
        alice.exit()
        item = await task
        assert item == {"hello": "from the head, to a task"}, f"bob's task got {item}"

    asyncio.run(alice_and_bob())
    print("heads:", stage.stats()["heads"])
