"""Tests of the ctypes binding, with real Python threads.

Run with the library to test in EXITLEFT_LIBRARY (meson test does) or installed:
    EXITLEFT_LIBRARY=build/libexitleft.so.1 python3 bindings/python/test_exitleft.py
"""

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


if __name__ == "__main__":
    unittest.main(verbosity=2)
