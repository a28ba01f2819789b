"""Tests of the ctypes binding, with real Python threads.

Run with the library to test in EXITLEFT_LIBRARY (meson test does) or installed:
    EXITLEFT_LIBRARY=build/libexitleft.so.1 python3 bindings/python/test_exitleft.py
"""

import asyncio
import errno
import gc
import os
import queue
import select
import subprocess
import sys
import threading
import time
import unittest
import weakref

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import exitleft  # noqa: E402
from exitleft import Outcome  # noqa: E402

PATIENCE = 20  # seconds any one wait of a test may take before it fails instead of hanging


def wait_until(predicate, what):
    give_up = time.monotonic() + PATIENCE
    while not predicate():
        if time.monotonic() > give_up:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.0005)


async def until(predicate, what):
    """wait_until() for a coroutine: lets the loop run while it waits for the state."""
    give_up = time.monotonic() + PATIENCE
    while not predicate():
        if time.monotonic() > give_up:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.0005)


async def outcome_of(task):
    """The task's result, bounded: a task that never finishes fails the test."""
    return await asyncio.wait_for(asyncio.shield(task), PATIENCE)


def readable(fd, patience=0):
    """Whether fd is readable, waiting for it at most `patience` seconds."""
    return bool(select.select([fd], [], [], patience)[0])


class Entrant(threading.Thread):
    """A thread that enters once with `ticket` and keeps the outcome."""

    def __init__(self, ticket, timeout=None):
        super().__init__(daemon=True)
        self.ticket, self.timeout, self.outcome = ticket, timeout, None
        self.start()

    def run(self):
        self.outcome = self.ticket.enter(self.timeout)

    def result(self):
        self.join(PATIENCE)
        if self.is_alive():
            raise AssertionError("the entrant never returned")
        return self.outcome


class Basics(unittest.TestCase):
    def test_version_and_outcomes(self):
        # The build passes the project's version; run by hand, any x.y.z will do.
        expected = os.environ.get("EXITLEFT_EXPECT_VERSION")
        if expected:
            self.assertEqual(exitleft.library_version(), expected)
        else:
            self.assertRegex(exitleft.library_version(), r"^\d+\.\d+\.\d+$")
        self.assertEqual([int(o) for o in Outcome], [1, 2, 3, 4, 5])

    def test_errors_are_oserrors_with_errno_and_text(self):
        with exitleft.Stage() as stage, stage.ticket(b"a") as a:
            with self.assertRaises(OSError) as cm:
                stage.ticket(b"a")
            self.assertEqual(cm.exception.errno, errno.EEXIST)
            self.assertEqual(cm.exception.strerror, "token already held by a live ticket")
            with self.assertRaises(OSError) as cm:
                a.exit()
            self.assertEqual(cm.exception.errno, errno.EPERM)
            for bad in (b"", b"x" * (exitleft.TOKEN_MAX + 1)):
                with self.assertRaises(OSError) as cm:
                    stage.notify(bad)
                self.assertEqual(cm.exception.errno, errno.EINVAL)
            with self.assertRaises(TypeError):
                stage.ticket("a str is not a token")
            self.assertEqual(a.enter(), Outcome.HEAD)
            with self.assertRaises(OSError) as cm:
                a.enter()
            self.assertEqual(cm.exception.errno, errno.EDEADLK)
            a.exit()

    def test_tokens_are_bytes_of_any_value(self):
        token = bytes(range(256))[:exitleft.TOKEN_MAX]  # NULs included
        with exitleft.Stage() as stage, stage.ticket(token) as t:
            self.assertTrue(stage.notify(bytearray(token)))
            self.assertFalse(stage.notify(token[:-1]))
            self.assertEqual(t.enter(), Outcome.TOKEN)

    def test_deliver_keeps_the_object_alive_until_taken(self):
        class Item:
            pass

        with exitleft.Stage() as stage, stage.ticket(b"r") as r:
            # No reference but the stage's table while the object sits in the mailbox.
            self.assertTrue(stage.deliver(b"r", Item()))
            gc.collect()
            item = r.take()
            self.assertIsInstance(item, Item)
            self.assertIsNone(r.take())
            # Once taken, the library holds no reference: the object can be collected.
            ref = weakref.ref(item)
            del item
            gc.collect()
            self.assertIsNone(ref())
            # Nobody holds the token: nothing is kept.
            self.assertFalse(stage.deliver(b"nobody", Item()))
            self.assertEqual(stage._items, {})
            with self.assertRaises(ValueError):
                stage.deliver(b"r", None)

    def test_items_keep_their_identity_and_order(self):
        objs = [object(), [1, 2], {"k": "v"}, "text", 42]
        with exitleft.Stage() as stage, stage.ticket(b"r") as r:
            for o in objs:
                self.assertTrue(stage.deliver(b"r", o))
            self.assertEqual(r.enter(), Outcome.TOKEN)
            taken = [r.take() for _ in objs]
            self.assertTrue(all(a is b for a, b in zip(taken, objs)))
            # A full mailbox keeps its ticket: nothing is ever lost.
            stage.deliver(b"r", objs[0])
            with self.assertRaises(OSError) as cm:
                r.free()
            self.assertEqual(cm.exception.errno, errno.ENOTEMPTY)
            self.assertIs(r.take(), objs[0])

    def test_stats(self):
        with exitleft.Stage() as stage, stage.ticket(b"a") as a, stage.ticket(b"b") as b:
            self.assertEqual(a.enter(), Outcome.HEAD)
            self.assertEqual(b.enter(timeout=0), Outcome.TIMEOUT)
            stage.notify(b"b")
            stage.notify(b"nobody")
            st = stage.stats()
            self.assertEqual(st, {"tickets": 2, "waiters": 0, "heads": 1,
                                  "notify_delivered": 0, "notify_recorded": 1,
                                  "notify_unowned": 1, "timeouts": 1, "closes": 0})
            a.exit()


class Threads(unittest.TestCase):
    def test_head_routes_items_to_waiting_threads(self):
        """Workers share one 'resource' (a queue of events for their tokens): whoever heads
        reads it and delivers each event to its token's thread; every worker receives
        exactly its own events, in order, each object unchanged."""
        workers, per_worker = 6, 200
        tokens = [f"worker-{i}".encode() for i in range(workers)]
        resource = queue.Queue()
        sent = {tok: [] for tok in tokens}
        for seq in range(per_worker):
            for tok in tokens:
                event = (tok, seq)
                sent[tok].append(event)
                resource.put(event)
        got = {tok: [] for tok in tokens}
        routed = {tok: 0 for tok in tokens}
        errors = []

        with exitleft.Stage() as stage:
            tickets = [stage.ticket(tok) for tok in tokens]

            def work(ticket):
                mine = got[ticket.token]
                try:
                    while True:
                        while (item := ticket.take()) is not None:
                            mine.append(item)
                        if len(mine) == per_worker:
                            return
                        outcome = ticket.enter(timeout=PATIENCE)
                        if outcome is Outcome.HEAD:
                            for _ in range(8):  # read a few events, route them
                                try:
                                    event = resource.get_nowait()
                                except queue.Empty:
                                    break
                                if event[0] == ticket.token:
                                    mine.append(event)
                                else:
                                    self.assertTrue(stage.deliver(event[0], event))
                                    routed[ticket.token] += 1
                            ticket.exit()
                        elif outcome is not Outcome.TOKEN:
                            raise AssertionError(f"{ticket.token}: {outcome!r}")
                except BaseException as e:  # reported by the main thread
                    errors.append(e)

            threads = [threading.Thread(target=work, args=(t,)) for t in tickets]
            for th in threads:
                th.start()
            for th in threads:
                th.join(PATIENCE)
            self.assertFalse(any(th.is_alive() for th in threads), "a worker hangs")
            self.assertEqual(errors, [])
            for tok in tokens:
                self.assertEqual(got[tok], sent[tok])
                self.assertTrue(all(a is b for a, b in zip(got[tok], sent[tok])))
            self.assertGreater(sum(routed.values()), 0)
            self.assertEqual(stage._items, {})
            for t in tickets:
                t.free()

    def test_exit_promotes_the_longest_waiter(self):
        with exitleft.Stage() as stage:
            head = stage.ticket(b"head")
            line = [stage.ticket(b"w%d" % i) for i in range(3)]
            self.assertEqual(head.enter(), Outcome.HEAD)
            entrants = []
            for i, t in enumerate(line):
                entrants.append(Entrant(t))
                wait_until(lambda: stage.stats()["waiters"] == i + 1, "in line")
            for i, e in enumerate(entrants):
                (line[i - 1] if i else head).exit()
                self.assertEqual(e.result(), Outcome.HEAD)
            line[-1].exit()
            for t in [head] + line:
                t.free()

    def test_64_waiters_each_see_every_notification_once(self):
        """The proof every binding gives: 64 tickets waiting in threads, notified by a head
        in another thread, round after round; each notification is seen exactly once."""
        n, rounds = 64, 3
        with exitleft.Stage() as stage:
            tickets = [stage.ticket(b"w%d" % i) for i in range(n)]
            seen = [0] * n

            def waiter(i):
                while True:
                    outcome = tickets[i].enter()
                    if outcome is Outcome.TOKEN:
                        seen[i] += 1
                    elif outcome is Outcome.HEAD:
                        tickets[i].exit()   # the head thread is in charge: hand it back
                    else:
                        return

            errors = []

            def head_main(head):
                # A failed assertion here would end this thread only: it is reported by the
                # main thread, and the stage is closed whatever happens, so that no waiter
                # is left in line.
                heading = False
                try:
                    outcome = head.enter()
                    heading = outcome is Outcome.HEAD
                    self.assertEqual(outcome, Outcome.HEAD)
                    for r in range(rounds):
                        wait_until(lambda: stage.stats()["waiters"] == n, "all 64 in line")
                        for i in range(n):
                            self.assertTrue(stage.notify(b"w%d" % i), f"w{i} is not held")
                        wait_until(lambda: sum(seen) == n * (r + 1), "every token seen")
                except BaseException as e:  # reported by the main thread
                    errors.append(e)
                finally:
                    stage.close()
                    if heading:
                        head.exit()

            threads = [threading.Thread(target=waiter, args=(i,)) for i in range(n)]
            for t in threads:
                t.start()
            with stage.ticket(b"head") as head:
                header = threading.Thread(target=head_main, args=(head,))
                header.start()
                header.join(PATIENCE * rounds)
                self.assertFalse(header.is_alive())
            for t in threads:
                t.join(PATIENCE)
            try:
                self.assertEqual(errors, [])
                self.assertEqual(seen, [rounds] * n)
                stats = stage.stats()
                self.assertEqual(stats["notify_delivered"], n * rounds)
                self.assertEqual(stats["notify_recorded"], 0)
            finally:    # else leaving the stage fails with EBUSY, hiding the failure
                for t in tickets:
                    t.free()

    def test_timeouts(self):
        with exitleft.Stage() as stage, stage.ticket(b"h") as h, stage.ticket(b"w") as w:
            self.assertEqual(h.enter(), Outcome.HEAD)
            start = time.monotonic()
            self.assertEqual(w.enter(timeout=0), Outcome.TIMEOUT)  # a non-blocking try
            # Only the deadline has to fire, nothing before it: a short one is fine, and
            # the time is checked from below only.
            e = Entrant(w, timeout=0.05)
            self.assertEqual(e.result(), Outcome.TIMEOUT)
            self.assertGreaterEqual(time.monotonic() - start, 0.05)
            self.assertEqual(stage.stats()["waiters"], 0)
            self.assertEqual(stage.stats()["timeouts"], 2)
            h.exit()
            self.assertEqual(w.enter(timeout=0), Outcome.HEAD)  # headless: heads at once
            w.exit()

    def test_close_ends_every_wait(self):
        with exitleft.Stage() as stage, stage.ticket(b"h") as h:
            self.assertEqual(h.enter(), Outcome.HEAD)
            waiters = [stage.ticket(b"w%d" % i) for i in range(4)]
            entrants = [Entrant(t) for t in waiters]
            wait_until(lambda: stage.stats()["waiters"] == 4, "four waiters in line")
            stage.close()
            self.assertEqual([e.result() for e in entrants], [Outcome.CLOSED] * 4)
            with self.assertRaises(OSError) as cm:
                stage.ticket(b"late")
            self.assertEqual(cm.exception.errno, errno.ECANCELED)
            self.assertEqual(waiters[0].enter(), Outcome.CLOSED)
            h.exit()  # the head kept heading until now; its exit promotes nobody
            for t in waiters:
                t.free()

    def test_waiters_blocked_in_enter_do_not_block_the_head(self):
        """ctypes.CDLL releases the GIL around every call, so threads blocked in
        exitleft_enter() without a deadline leave the head free to run Python code."""
        n = 8
        with exitleft.Stage() as stage, stage.ticket(b"head") as head:
            self.assertEqual(head.enter(), Outcome.HEAD)
            tickets = [stage.ticket(b"w%d" % i) for i in range(n)]
            entrants = [Entrant(t) for t in tickets]
            # Polling the stage from Python needs the GIL: this returns only because the
            # eight threads sleeping in C do not hold it.
            wait_until(lambda: stage.stats()["waiters"] == n, "all threads waiting")
            # The head does pure-Python work while they wait: that it finishes at all is
            # the proof (no time limit, which a loaded machine would break)...
            total = sum(i * i for i in range(200000))
            self.assertEqual(total, 2666646666700000)
            self.assertEqual(stage.stats()["waiters"], n)  # ...and they are all still in C
            # Then routes an item to each: exactly that thread wakes.
            for i, t in enumerate(tickets):
                stage.deliver(t.token, ("for", i))
                self.assertEqual(entrants[i].result(), Outcome.TOKEN)
                self.assertEqual(t.take(), ("for", i))
                self.assertEqual(stage.stats()["waiters"], n - 1 - i)
            head.exit()
            for t in tickets:
                t.free()

    def test_with_pydll_a_waiter_would_freeze_the_process(self):
        """The contrast: the same wait through ctypes.PyDLL, which keeps the GIL during
        the call, never lets the head run again. Shown in a child process: the head
        waits for the waiter to be in line, which it can never see, since a waiter in
        line holds the GIL. Whatever the timing the child cannot finish; the parent
        watches it for a while once it has started the waiter, then kills it."""
        child = r"""
import ctypes, os, sys, threading, time
sys.path.insert(0, sys.argv[1])
import exitleft
held = ctypes.PyDLL(os.environ.get("EXITLEFT_LIBRARY") or "libexitleft.so.1")
held.exitleft_enter.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
with exitleft.Stage() as stage, stage.ticket(b"h") as h, stage.ticket(b"w") as w:
    assert h.enter() == exitleft.Outcome.HEAD
    print("waiter starting", flush=True)
    threading.Thread(target=held.exitleft_enter, args=(w._as_parameter_, None),
                     daemon=True).start()
    while stage.stats()["waiters"] == 0:  # never true here: seeing it needs the GIL
        time.sleep(0.001)
    print("head ran", flush=True)  # never reached: the waiter holds the GIL in C
"""
        here = os.path.dirname(os.path.abspath(__file__))
        proc = subprocess.Popen([sys.executable, "-c", child, here], text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            lines = queue.Queue()
            threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout],
                             daemon=True).start()
            self.assertEqual(lines.get(timeout=PATIENCE), "waiter starting\n")
            # Not a deadline for anything to happen: the child cannot print again or
            # end, however long it runs; this is only how long we watch it not do so.
            with self.assertRaises(subprocess.TimeoutExpired):
                proc.wait(timeout=2)
            self.assertTrue(lines.empty())
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()


class Pollable(unittest.TestCase):
    """The 1.2 calls as they are: enter_start, enter_poll, enter_cancel, fd, limit."""

    def test_start_poll_and_the_descriptor(self):
        with exitleft.Stage() as stage, stage.ticket(b"h") as h, stage.ticket(b"w") as w:
            self.assertIs(h.enter_start(), Outcome.HEAD)  # headless: heads at once
            fd = w.fd()
            self.assertEqual(w.fd(), fd)  # the same descriptor on every call
            self.assertIs(w.enter_start(), Outcome.PENDING)
            self.assertEqual(stage.stats()["waiters"], 1)  # a waiter without a thread
            self.assertFalse(readable(fd))
            self.assertIs(w.enter_poll(), Outcome.PENDING)
            for busy in (w.enter_start, lambda: w.enter(timeout=0), w.free):
                with self.assertRaises(OSError) as cm:
                    busy()
                self.assertEqual(cm.exception.errno, errno.EBUSY)
            h.exit()  # promotes the pending ticket: its descriptor turns readable
            self.assertTrue(readable(fd, PATIENCE))
            self.assertIs(w.enter_poll(), Outcome.HEAD)  # collected exactly once
            self.assertFalse(readable(fd))
            for undecided in (w.enter_poll, w.enter_cancel):
                with self.assertRaises(OSError) as cm:
                    undecided()
                self.assertEqual(cm.exception.errno, errno.EPERM)
            w.exit()

    def test_cancel_gives_up_or_keeps_the_decision(self):
        with exitleft.Stage() as stage, stage.ticket(b"h") as h, stage.ticket(b"w") as w:
            self.assertIs(h.enter(), Outcome.HEAD)
            self.assertIs(w.enter_start(), Outcome.PENDING)
            self.assertIs(w.enter_cancel(), Outcome.TIMEOUT)  # undecided: out of line
            self.assertEqual(stage.stats()["waiters"], 0)
            # Decided before the cancel: the cancel returns the decision, never TIMEOUT.
            self.assertIs(w.enter_start(), Outcome.PENDING)
            stage.notify(b"w")
            self.assertIs(w.enter_cancel(), Outcome.TOKEN)
            self.assertIs(w.enter_start(), Outcome.PENDING)
            h.exit()
            self.assertIs(w.enter_cancel(), Outcome.HEAD)  # a promotion is never lost
            self.assertIs(h.enter_start(), Outcome.PENDING)
            stage.close()
            self.assertIs(h.enter_cancel(), Outcome.CLOSED)
            w.exit()

    def test_limit_bounds_the_mailbox(self):
        with exitleft.Stage() as stage, stage.ticket(b"r") as r:
            r.limit(2)
            self.assertTrue(stage.deliver(b"r", "one"))
            self.assertTrue(stage.deliver(b"r", "two"))
            with self.assertRaises(OSError) as cm:
                stage.deliver(b"r", "three")
            self.assertEqual(cm.exception.errno, errno.ENOBUFS)
            self.assertEqual(len(stage._items), 2)  # the refused object is not kept
            self.assertEqual(r.take(), "one")
            self.assertTrue(stage.deliver(b"r", "three"))
            r.limit(0)  # no limit
            self.assertTrue(stage.deliver(b"r", "four"))
            self.assertEqual([r.take() for _ in range(3)], ["two", "three", "four"])
            with self.assertRaises(ValueError):
                r.limit(-1)


class Async(unittest.TestCase):
    """enter_async(): tasks of one asyncio loop and plain threads sharing a stage."""

    def run_async(self, scenario):
        asyncio.run(asyncio.wait_for(scenario(), 4 * PATIENCE))

    def test_promotion_order_across_tasks_and_threads(self):
        """The line is one FIFO, whichever kind waits in it: tasks and threads alternate
        in line, and each exit promotes the next, task or thread."""
        async def scenario():
            with exitleft.Stage() as stage, stage.ticket(b"head") as head:
                self.assertIs(head.enter(), Outcome.HEAD)
                kinds = ["task", "thread", "task", "task", "thread", "thread", "task"]
                tickets = [stage.ticket(b"%s-%d" % (k.encode(), i))
                           for i, k in enumerate(kinds)]
                waiting = []
                for i, (kind, t) in enumerate(zip(kinds, tickets)):
                    if kind == "task":
                        waiting.append(asyncio.create_task(t.enter_async()))
                    else:
                        waiting.append(Entrant(t))
                    await until(lambda: stage.stats()["waiters"] == i + 1, "in line")
                previous = head
                for i, (t, w) in enumerate(zip(tickets, waiting)):
                    previous.exit()
                    if isinstance(w, Entrant):
                        # Blocking the loop here is fine: the thread does not need it.
                        self.assertIs(w.result(), Outcome.HEAD, kinds[i])
                    else:
                        self.assertIs(await outcome_of(w), Outcome.HEAD, kinds[i])
                    # The others are still in line: only the first was promoted.
                    self.assertEqual(stage.stats()["waiters"], len(tickets) - 1 - i)
                    previous = t
                previous.exit()
                for t in tickets:
                    t.free()

        self.run_async(scenario)

    def test_notifications_wake_only_their_task(self):
        async def scenario():
            n = 6
            with exitleft.Stage() as stage, stage.ticket(b"head") as head:
                self.assertIs(head.enter(), Outcome.HEAD)
                tickets = [stage.ticket(b"t%d" % i) for i in range(n)]
                thread_ticket = stage.ticket(b"thread")
                tasks = [asyncio.create_task(t.enter_async()) for t in tickets]
                entrant = Entrant(thread_ticket)
                await until(lambda: stage.stats()["waiters"] == n + 1, "all in line")
                # Out of order, so that FIFO position cannot be what picks the waker.
                for k, i in enumerate([3, 0, 5, 1, 4, 2]):
                    stage.deliver(tickets[i].token, ("for", i))
                    self.assertIs(await outcome_of(tasks[i]), Outcome.TOKEN)
                    self.assertEqual(tickets[i].take(), ("for", i))
                    self.assertEqual(stage.stats()["waiters"], n - k)
                    self.assertEqual(sum(t.done() for t in tasks), k + 1)
                # A notification without an object, to the thread among the tasks.
                self.assertTrue(stage.notify(b"thread"))
                self.assertIs(entrant.result(), Outcome.TOKEN)
                self.assertEqual(stage.stats()["waiters"], 0)
                head.exit()
                for t in tickets + [thread_ticket]:
                    t.free()

        self.run_async(scenario)

    def test_timeouts(self):
        async def scenario():
            with exitleft.Stage() as stage, stage.ticket(b"h") as h, \
                    stage.ticket(b"w") as w:
                self.assertIs(h.enter(), Outcome.HEAD)
                self.assertIs(await w.enter_async(timeout=0), Outcome.TIMEOUT)  # a try
                # Only the deadline has to fire, nothing before it: checked from below.
                start = time.monotonic()
                self.assertIs(await w.enter_async(timeout=0.05), Outcome.TIMEOUT)
                self.assertGreaterEqual(time.monotonic() - start, 0.05)
                self.assertEqual(stage.stats()["waiters"], 0)
                self.assertEqual(stage.stats()["timeouts"], 2)
                # A task timing out leaves the line and nobody else: the thread in line
                # before it still heads when the head exits. (Not the other way round: a
                # thread getting in line behind it would race its deadline.)
                with stage.ticket(b"t") as t:
                    e = Entrant(t)
                    await until(lambda: stage.stats()["waiters"] == 1, "the thread in line")
                    self.assertIs(await w.enter_async(timeout=0.05), Outcome.TIMEOUT)
                    self.assertEqual(stage.stats()["waiters"], 1)
                    h.exit()
                    self.assertIs(e.result(), Outcome.HEAD)
                    t.exit()
                # Promoted before its deadline: HEAD, and the timer is gone with the wait.
                self.assertIs(h.enter(), Outcome.HEAD)
                task = asyncio.create_task(w.enter_async(timeout=PATIENCE))
                await until(lambda: stage.stats()["waiters"] == 1, "the task in line")
                h.exit()
                self.assertIs(await outcome_of(task), Outcome.HEAD)
                w.exit()

        self.run_async(scenario)

    def test_cancelled_task_hands_on_what_reached_it(self):
        """A task cancelled after its enter was decided: headship goes on to the next in
        line, a notification is recorded again, objects stay in the mailbox."""
        async def scenario():
            with exitleft.Stage() as stage, stage.ticket(b"h") as h, \
                    stage.ticket(b"a") as a, stage.ticket(b"t") as t:
                self.assertIs(h.enter(), Outcome.HEAD)
                # Undecided: it just leaves the line.
                task = asyncio.create_task(a.enter_async())
                await until(lambda: stage.stats()["waiters"] == 1, "the task in line")
                task.cancel()
                with self.assertRaises(asyncio.CancelledError):
                    await task
                self.assertEqual(stage.stats()["waiters"], 0)
                # Promoted, then cancelled before it could run: the thread behind heads.
                task = asyncio.create_task(a.enter_async())
                await until(lambda: stage.stats()["waiters"] == 1, "the task in line")
                e = Entrant(t)
                await until(lambda: stage.stats()["waiters"] == 2, "both in line")
                h.exit()  # promotes the task; nothing lets the loop run before the cancel
                task.cancel()
                with self.assertRaises(asyncio.CancelledError):
                    await task
                self.assertIs(e.result(), Outcome.HEAD)
                # Notified, then cancelled: the next enter returns TOKEN at once.
                task = asyncio.create_task(a.enter_async())
                await until(lambda: stage.stats()["waiters"] == 1, "the task in line")
                stage.notify(b"a")
                task.cancel()
                with self.assertRaises(asyncio.CancelledError):
                    await task
                self.assertIs(a.enter(timeout=0), Outcome.TOKEN)
                # Delivered to, then cancelled: the object waits in the mailbox.
                task = asyncio.create_task(a.enter_async())
                await until(lambda: stage.stats()["waiters"] == 1, "the task in line")
                stage.deliver(b"a", "kept")
                task.cancel()
                with self.assertRaises(asyncio.CancelledError):
                    await task
                self.assertIs(a.enter(timeout=0), Outcome.TOKEN)
                self.assertEqual(a.take(), "kept")
                t.exit()

        self.run_async(scenario)

    def test_close_ends_every_async_wait(self):
        async def scenario():
            with exitleft.Stage() as stage, stage.ticket(b"h") as h:
                self.assertIs(h.enter(), Outcome.HEAD)
                tickets = [stage.ticket(b"w%d" % i) for i in range(4)]
                tasks = [asyncio.create_task(t.enter_async()) for t in tickets]
                await until(lambda: stage.stats()["waiters"] == 4, "four in line")
                stage.close()
                self.assertEqual([await outcome_of(t) for t in tasks], [Outcome.CLOSED] * 4)
                h.exit()
                for t in tickets:
                    t.free()

        self.run_async(scenario)

    def test_tasks_and_threads_route_a_shared_resource(self):
        """Workers of both kinds share one 'resource' (a queue of events for their tokens):
        whoever heads, task or thread, reads a few events and delivers each to its owner;
        every worker receives exactly its own events, in order."""
        n_tasks, n_threads, per_worker = 5, 3, 120
        tokens = [b"task-%d" % i for i in range(n_tasks)] + \
                 [b"thread-%d" % i for i in range(n_threads)]
        resource = queue.Queue()
        sent = {tok: [] for tok in tokens}
        for seq in range(per_worker):
            for tok in tokens:
                sent[tok].append((tok, seq))
                resource.put((tok, seq))
        got = {tok: [] for tok in tokens}
        headed = {tok: 0 for tok in tokens}
        errors = []

        def head_round(stage, ticket):
            headed[ticket.token] += 1
            for _ in range(8):
                try:
                    event = resource.get_nowait()
                except queue.Empty:
                    break
                self.assertTrue(stage.deliver(event[0], event))
            ticket.exit()

        def take_all(ticket):
            while (item := ticket.take()) is not None:
                got[ticket.token].append(item)
            return len(got[ticket.token]) == per_worker

        def thread_work(stage, ticket):
            try:
                while not take_all(ticket):
                    outcome = ticket.enter(timeout=PATIENCE)
                    if outcome is Outcome.HEAD:
                        head_round(stage, ticket)
                    elif outcome is not Outcome.TOKEN:
                        raise AssertionError(f"{ticket.token}: {outcome!r}")
            except BaseException as e:  # reported by the main thread
                errors.append(e)

        async def task_work(stage, ticket):
            while not take_all(ticket):
                outcome = await ticket.enter_async(timeout=PATIENCE)
                if outcome is Outcome.HEAD:
                    head_round(stage, ticket)
                elif outcome is not Outcome.TOKEN:
                    raise AssertionError(f"{ticket.token}: {outcome!r}")

        async def scenario():
            with exitleft.Stage() as stage:
                tickets = [stage.ticket(tok) for tok in tokens]
                tasks = [asyncio.create_task(task_work(stage, t)) for t in tickets[:n_tasks]]
                # A task heads first, on the empty stage: whatever the threads do later,
                # the tasks' side of heading is exercised.
                await until(lambda: any(headed[t.token] for t in tickets[:n_tasks]),
                            "a task heading")
                threads = [threading.Thread(target=thread_work, args=(stage, t))
                           for t in tickets[n_tasks:]]
                for th in threads:
                    th.start()
                await asyncio.gather(*tasks)
                for th in threads:
                    await asyncio.get_running_loop().run_in_executor(None, th.join, PATIENCE)
                self.assertFalse(any(th.is_alive() for th in threads), "a thread hangs")
                self.assertEqual(errors, [])
                for t in tickets:
                    t.free()

        self.run_async(scenario)
        for tok in tokens:
            self.assertEqual(got[tok], sent[tok])
        self.assertGreater(sum(headed[t] for t in tokens[:n_tasks]), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
