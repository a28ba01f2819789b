"""exitleft - libexitleft from Python, through ctypes (no build step).

Many threads, one resource, each thread waiting for its own events: one thread at a time
*heads* a Stage and reads the shared resource; every other thread holds a Ticket for its own
token (bytes) and *enters* the stage, coming back when it heads, when something arrived for
its token, when its timeout passes or when the stage is closed. See exitleft(3).

    with exitleft.Stage() as stage, stage.ticket(b"alice") as me:
        if me.enter() is exitleft.Outcome.HEAD:
            stage.deliver(b"bob", {"hello": "bob"})   # wakes bob's thread, no other
            me.exit()

The library is libexitleft.so.1, found by the dynamic loader, or the file named by the
environment variable EXITLEFT_LIBRARY (a build tree's copy, for instance).

Errors the library reports are raised as OSError (or the subclass Python picks for the
errno, such as FileExistsError for EEXIST), with the errno and exitleft_strerror()'s text.

The library is loaded with ctypes.CDLL, which releases the GIL for the duration of every
call: a thread blocked in Ticket.enter() lets every other Python thread run, the head
included. (ctypes.PyDLL would keep the GIL and freeze the process at the first wait.)

Objects handed over with Stage.deliver() never travel through C as PyObject pointers. C
keeps a raw pointer without a reference count, so the object could be collected while it
sits in a mailbox, and the receiver would then turn freed memory back into an object.
Instead the stage keeps each object in a table under a fresh integer id, and the id is what
C carries; Ticket.take() pops the object back out. The table holds the only reference the
library needs, an id can never dangle (an unknown id would be a KeyError, not a crash), and
ids are never reused, so a late or stray id cannot hand over someone else's object.

Free what you create (the with statement does it): a ticket before its stage, and take
what a mailbox holds before freeing its ticket, as the C library requires.

Since 1.2 a ticket can also wait without a thread, for event loops: Ticket.enter_start(),
enter_poll() and enter_cancel() with the descriptor of Ticket.fd(), and for asyncio
Ticket.enter_async(), which waits in line while the loop runs other tasks:

    async def serve(stage, me):
        while True:
            outcome = await me.enter_async(timeout=5)
            if outcome is exitleft.Outcome.HEAD:
                ...                          # read the resource, deliver, then:
                me.exit()
            elif outcome is exitleft.Outcome.TOKEN:
                handle(me.take())
"""

import asyncio
import ctypes
import enum
import itertools
import os
import threading
import time
from typing import Any, Dict, Optional, Union

# What a token may be given as: any bytes-like object, copied to bytes.
Token = Union[bytes, bytearray, memoryview]

__all__ = ["Outcome", "Stage", "Ticket", "TOKEN_MAX", "library_version"]

TOKEN_MAX = 128  # EXITLEFT_TOKEN_MAX

_lib = ctypes.CDLL(os.environ.get("EXITLEFT_LIBRARY") or "libexitleft.so.1")

_c_int, _c_size, _c_void_p = ctypes.c_int, ctypes.c_size_t, ctypes.c_void_p
_c_void_pp = ctypes.POINTER(ctypes.c_void_p)


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Stats(ctypes.Structure):
    # struct exitleft_stats, since 1.1. Fields are only ever appended to it.
    _fields_ = [(name, ctypes.c_uint64) for name in (
        "tickets", "waiters", "heads", "notify_delivered", "notify_recorded",
        "notify_unowned", "timeouts", "closes")]


def _fn(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype, f.argtypes = restype, list(argtypes)
    return f


_stage_new = _fn("exitleft_stage_new", _c_int, _c_void_pp)
_stage_close = _fn("exitleft_stage_close", _c_int, _c_void_p)
_stage_free = _fn("exitleft_stage_free", _c_int, _c_void_p)
_ticket_new = _fn("exitleft_ticket_new", _c_int, _c_void_p, ctypes.c_char_p, _c_size,
                  _c_void_pp)
_ticket_free = _fn("exitleft_ticket_free", _c_int, _c_void_p)
_enter = _fn("exitleft_enter", _c_int, _c_void_p, ctypes.POINTER(_Timespec))
_exit = _fn("exitleft_exit", _c_int, _c_void_p)
_notify = _fn("exitleft_notify", _c_int, _c_void_p, ctypes.c_char_p, _c_size)
_deliver = _fn("exitleft_deliver", _c_int, _c_void_p, ctypes.c_char_p, _c_size, _c_void_p)
_take = _fn("exitleft_take", _c_int, _c_void_p, _c_void_pp)
_strerror = _fn("exitleft_strerror", ctypes.c_char_p, _c_int)
_version = _fn("exitleft_version", ctypes.c_char_p)
try:
    _stage_stats = _fn("exitleft_stage_stats", _c_int, _c_void_p, ctypes.POINTER(_Stats),
                       _c_size)
except AttributeError:  # a 1.0 library
    _stage_stats = None
try:
    _ticket_fd = _fn("exitleft_ticket_fd", _c_int, _c_void_p)
    _enter_start = _fn("exitleft_enter_start", _c_int, _c_void_p)
    _enter_poll = _fn("exitleft_enter_poll", _c_int, _c_void_p)
    _enter_cancel = _fn("exitleft_enter_cancel", _c_int, _c_void_p)
    _ticket_limit = _fn("exitleft_ticket_limit", _c_int, _c_void_p, _c_size)
except AttributeError:  # a 1.0 or 1.1 library
    _ticket_fd = _enter_start = _enter_poll = _enter_cancel = _ticket_limit = None


class Outcome(enum.IntEnum):
    """Why Ticket.enter() returned (enum exitleft_outcome)."""
    HEAD = 1     # the thread heads the stage: read the resource, route, then exit()
    TOKEN = 2    # the token was notified or the mailbox holds items: take() them
    TIMEOUT = 3  # the timeout passed; the thread holds nothing
    CLOSED = 4   # the stage was closed; the thread holds nothing
    PENDING = 5  # since 1.2, enter_start() and enter_poll(): in line, not decided yet


def _check(rc: int) -> int:
    """Returns rc when it is not an error; raises OSError(errno, text) when it is."""
    if rc < 0:
        raise OSError(-rc, _strerror(rc).decode())
    return rc


def _since_1_2(fn):
    if fn is None:
        raise NotImplementedError("pollable tickets need libexitleft 1.2")
    return fn


def _token(token: Token) -> bytes:
    if not isinstance(token, (bytes, bytearray, memoryview)):
        raise TypeError(f"a token is bytes, not {type(token).__name__}")
    return bytes(token)


def library_version() -> str:
    """The running library's version, such as '1.1.0'."""
    return _version().decode()


class Stage:
    """A stage: at most one thread heads it at a time. Closed and freed by `with`."""

    def __init__(self) -> None:
        handle = _c_void_p()
        _check(_stage_new(ctypes.byref(handle)))
        # What ctypes passes for this object; None once freed.
        self._as_parameter_: Optional[ctypes.c_void_p] = handle
        self._items: Dict[int, Any] = {}  # id -> object delivered into a mailbox and not taken yet
        self._items_lock = threading.Lock()
        self._ids = itertools.count(1)  # 0 would be a NULL item, which C refuses

    def __enter__(self) -> "Stage":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self.free()

    def ticket(self, token: Token) -> "Ticket":
        """A new Ticket of this stage for `token` (1 to TOKEN_MAX bytes)."""
        return Ticket(self, token)

    def close(self) -> None:
        """Wakes every waiter with CLOSED; later enters return CLOSED. Idempotent."""
        _check(_stage_close(self))

    def free(self) -> None:
        """Frees the stage; its tickets must have been freed (else OSError EBUSY)."""
        if self._as_parameter_ is not None:
            _check(_stage_free(self))
            self._as_parameter_ = None

    def notify(self, token: Token) -> bool:
        """Wakes the holder of `token`, or records it; False if nobody holds it."""
        token = _token(token)
        return _check(_notify(self, token, len(token))) == 1

    def deliver(self, token: Token, obj: Any) -> bool:
        """Puts `obj` in the mailbox of the holder of `token` and wakes it.

        Returns False, keeping nothing, if no ticket holds the token. `obj` may be any
        object but None (which take() returns for an empty mailbox). A full mailbox
        (Ticket.limit()) raises OSError ENOBUFS, keeping nothing either."""
        if obj is None:
            raise ValueError("None cannot be delivered: take() returns it for 'empty'")
        token = _token(token)
        with self._items_lock:
            key = next(self._ids)
            # In the table before C can hand the id to the receiver, which may take it at
            # once from another thread.
            self._items[key] = obj
        try:
            delivered = _check(_deliver(self, token, len(token), key)) == 1
        except BaseException:
            self._forget(key)
            raise
        if not delivered:
            self._forget(key)
        return delivered

    def stats(self) -> Dict[str, int]:
        """The stage's counters (exitleft_stage_stats, since 1.1), as a dict."""
        if _stage_stats is None:
            raise NotImplementedError("exitleft_stage_stats needs libexitleft 1.1")
        st = _Stats()
        filled = _check(_stage_stats(self, ctypes.byref(st), ctypes.sizeof(st)))
        # Only the fields the library filled: an older library may know fewer.
        return {name: getattr(st, name) for name, _ in _Stats._fields_
                if getattr(_Stats, name).offset + getattr(_Stats, name).size <= filled}

    def _forget(self, key: int) -> Any:
        with self._items_lock:
            return self._items.pop(key)


class Ticket:
    """A ticket for one token on a stage, used by one thread at a time. Freed by `with`."""

    def __init__(self, stage: Stage, token: Token) -> None:
        self.token = _token(token)
        self.stage = stage  # also keeps the stage alive as long as the ticket
        handle = _c_void_p()
        _check(_ticket_new(stage, self.token, len(self.token), ctypes.byref(handle)))
        self._as_parameter_: Optional[ctypes.c_void_p] = handle

    def __enter__(self) -> "Ticket":
        return self

    def __exit__(self, *exc: object) -> None:
        self.free()

    def enter(self, timeout: Optional[float] = None) -> Outcome:
        """Waits for headship or for this token's events; returns an Outcome.

        `timeout` is in seconds (None: no limit; 0: a non-blocking try), measured on
        CLOCK_MONOTONIC. Other Python threads keep running while this one waits."""
        if timeout is None:
            return Outcome(_check(_enter(self, None)))
        at = time.clock_gettime_ns(time.CLOCK_MONOTONIC) + max(0, int(timeout * 1e9))
        deadline = _Timespec(at // 1000000000, at % 1000000000)
        return Outcome(_check(_enter(self, ctypes.byref(deadline))))

    def exit(self) -> None:
        """Stops heading: the thread that has waited longest is promoted."""
        _check(_exit(self))

    # --- Since 1.2: waiting without a thread -------------------------------------------

    def fd(self) -> int:
        """The ticket's descriptor (exitleft_ticket_fd): the same on every call, owned and
        closed by the ticket. Readable exactly while a pending enter is decided and not yet
        collected. Only watch it (select, add_reader): never read or close it."""
        return _check(_since_1_2(_ticket_fd)(self))

    def enter_start(self) -> Outcome:
        """enter() that never blocks: HEAD, TOKEN or CLOSED when enter() would return at
        once; otherwise the ticket waits in line, without a thread, and this returns
        PENDING. A pending enter must be collected, by enter_poll() once fd() is readable
        or by enter_cancel(): promoted while pending, the ticket heads the stage."""
        return Outcome(_check(_since_1_2(_enter_start)(self)))

    def enter_poll(self) -> Outcome:
        """The pending enter's outcome, HEAD, TOKEN or CLOSED, once decided (exactly once;
        the ticket is no longer pending), else PENDING. OSError EPERM if none is pending."""
        return Outcome(_check(_since_1_2(_enter_poll)(self)))

    def enter_cancel(self) -> Outcome:
        """Gives the pending enter up: TIMEOUT if it was undecided (the ticket holds
        nothing), else its outcome as enter_poll() would return it: a promotion or a
        notification is never swallowed; on HEAD the caller heads and must exit().
        OSError EPERM if none is pending."""
        return Outcome(_check(_since_1_2(_enter_cancel)(self)))

    def limit(self, max_items: int) -> None:
        """Bounds the mailbox: while it holds max_items objects, Stage.deliver() to this
        token raises OSError ENOBUFS and keeps nothing. 0 (the default) is no limit."""
        if max_items < 0:
            raise ValueError("a mailbox limit is 0 (none) or more")
        _check(_since_1_2(_ticket_limit)(self, max_items))

    async def enter_async(self, timeout: Optional[float] = None) -> Outcome:
        """enter() for asyncio: waits in line without blocking the event loop, which runs
        other tasks meanwhile, and returns an Outcome. Use it from the loop's thread.

        `timeout` is in seconds (None: no limit; 0 or less: a non-blocking try). When it
        passes, the pending enter is cancelled with enter_cancel(), and what that returns is
        returned: TIMEOUT, or the outcome decided at the last moment. As with enter(), a
        HEAD outcome means the caller heads the stage and must call exit().

        If the task is cancelled while it waits, the ticket leaves the line as a thread
        cancelled in exitleft_enter() does, and CancelledError propagates. Nothing
        decided for it is lost on the way: headship it was given meanwhile is passed on at
        once (exit(): the next in line heads, the stage never stays headless with waiters);
        a notification it was given is recorded again, so its next enter returns TOKEN at
        once; delivered objects stay in its mailbox for take()."""
        loop = asyncio.get_running_loop()
        fd = self.fd()  # before the start: no error may leave the ticket pending, uncollected
        outcome = self.enter_start()
        if outcome is not Outcome.PENDING:
            return outcome
        if timeout is not None and timeout <= 0:
            return self.enter_cancel()
        woke: "asyncio.Future[bool]" = loop.create_future()

        def wake(readable):
            if not woke.done():
                woke.set_result(readable)

        try:
            loop.add_reader(fd, wake, True)
        except BaseException:  # a loop that cannot watch descriptors
            self._abandon()
            raise
        timer = None if timeout is None else loop.call_later(timeout, wake, False)
        try:
            while True:
                try:
                    readable = await woke
                except BaseException:  # CancelledError, or GeneratorExit: never awaited again
                    self._abandon()
                    raise
                if not readable:
                    return self.enter_cancel()  # the timeout: TIMEOUT, or the decision
                outcome = self.enter_poll()
                if outcome is not Outcome.PENDING:
                    return outcome
                woke = loop.create_future()  # readable, yet undecided: wait on
        finally:
            loop.remove_reader(fd)
            if timer is not None:
                timer.cancel()

    def _abandon(self) -> None:
        """Leaves the line for a cancelled enter_async(), handing on what reached it."""
        outcome = self.enter_cancel()
        if outcome is Outcome.HEAD:
            self.exit()
        elif outcome is Outcome.TOKEN:
            self.stage.notify(self.token)

    def take(self) -> Any:
        """The oldest object in this ticket's mailbox, or None if it is empty."""
        item = _c_void_p()
        if _check(_take(self, ctypes.byref(item))) == 0 or item.value is None:
            return None
        return self.stage._forget(item.value)

    def free(self) -> None:
        """Gives the token back (exits first if heading). OSError ENOTEMPTY if the
        mailbox holds objects: take() them first."""
        if self._as_parameter_ is not None:
            _check(_ticket_free(self))
            self._as_parameter_ = None
