'use strict';
/**
 * exitleft - libexitleft from Node.js, through koffi (no compiler step).
 *
 * Many threads, one resource, each waiting for its own events: one ticket at a time *heads*
 * a Stage and reads the shared resource; every other ticket waits for its own token (bytes)
 * and comes back when it heads, when something arrived for its token, when its timeout
 * passes or when the stage is closed. See exitleft(3).
 *
 *     const stage = new Stage();
 *     const me = stage.ticket('alice');
 *     if (await me.enter() === Outcome.HEAD) {
 *       stage.deliver('bob', { hello: 'bob' });   // wakes bob's enter, no other
 *       me.exit();
 *     }
 *
 * The library is libexitleft.so.1, found by the dynamic loader, or the file named by the
 * environment variable EXITLEFT_LIBRARY.
 *
 * How `await ticket.enter()` waits. A blocked exitleft_enter() would hold one of koffi's
 * async worker threads (about one per core) for as long as it waits, so a handful of
 * waiting tickets would exhaust them and the rest would queue behind, not even in line.
 * Instead enter() uses the library's pollable tickets (1.2): exitleft_enter_start() puts the
 * ticket in line without a thread (a pending ticket is a waiter like any other: FIFO
 * promotion, notification, delivery and close treat it as a blocked thread), and one
 * epoll_wait() off the main thread, on a koffi worker, watches the descriptors of every
 * pending ticket of this thread at once. When one becomes readable, exitleft_enter_poll()
 * collects its outcome on the main thread and its promise settles. A timeout is a timer that
 * calls exitleft_enter_cancel(), which returns TIMEOUT or, if the enter was decided first,
 * its outcome: a promotion is never swallowed. Should the epoll_wait() itself fail, every
 * pending enter is cancelled the same way: a decided one resolves to its outcome, the
 * others reject with the error, out of line.
 *
 * Values handed over with deliver() to a ticket of the same Stage object (so of the same
 * thread) never travel through C: the stage keeps each one in a Map under a fresh odd
 * integer id, C carries the id, and take() pops the value back out (as the Python binding
 * does). Ids are never reused. A value for any other ticket (one of a Worker, whose thread
 * cannot reach this Map) travels as a copy: v8.serialize()'s bytes in memory from malloc(),
 * whose (even) address C carries and which take() deserializes and frees, in whichever
 * thread holds the ticket. A value that cannot be cloned (a function, a symbol) is refused
 * there (code 'ERR_EXITLEFT_NOT_CLONEABLE'), delivering nothing.
 *
 * Errors the library reports are thrown (or rejected) as Error objects whose `code` is the
 * errno name ('EEXIST', 'EBUSY', ...), `errno` its number, and message exitleft_strerror()'s.
 *
 * Linux only (epoll, eventfd).
 */
const koffi = require('koffi');
const os = require('os');
const v8 = require('v8');

const lib = koffi.load(process.env.EXITLEFT_LIBRARY || 'libexitleft.so.1');
const libc = koffi.load('libc.so.6');

const TOKEN_MAX = 128;
const HEAD = 1, TOKEN = 2, TIMEOUT = 3, CLOSED = 4, PENDING = 5;

/** What enter() resolves to. */
const Outcome = Object.freeze({ HEAD: 'head', TOKEN: 'token', TIMEOUT: 'timeout', CLOSED: 'closed' });
const OUTCOMES = { [HEAD]: Outcome.HEAD, [TOKEN]: Outcome.TOKEN, [TIMEOUT]: Outcome.TIMEOUT, [CLOSED]: Outcome.CLOSED };

// Stages and tickets are opaque: plain void pointers (a pointer typed by koffi would not
// cross into a Worker, which has koffi types of its own).
const Stats = koffi.struct('exitleft_stats', {
  tickets: 'uint64', waiters: 'uint64', heads: 'uint64', notify_delivered: 'uint64',
  notify_recorded: 'uint64', notify_unowned: 'uint64', timeouts: 'uint64', closes: 'uint64',
});

const c = {
  stageNew: lib.func('int exitleft_stage_new(_Out_ void **stagep)'),
  stageClose: lib.func('int exitleft_stage_close(void *stage)'),
  stageFree: lib.func('int exitleft_stage_free(void *stage)'),
  ticketNew: lib.func('int exitleft_ticket_new(void *stage, const uint8_t *token, size_t len, _Out_ void **ticketp)'),
  ticketFree: lib.func('int exitleft_ticket_free(void *ticket)'),
  exit: lib.func('int exitleft_exit(void *ticket)'),
  notify: lib.func('int exitleft_notify(void *stage, const uint8_t *token, size_t len)'),
  // The item is an id, never a pointer to anything: uintptr_t travels as void * does.
  deliver: lib.func('int exitleft_deliver(void *stage, const uint8_t *token, size_t len, uintptr_t item)'),
  take: lib.func('int exitleft_take(void *ticket, _Out_ uintptr_t *itemp)'),
  strerror: lib.func('const char *exitleft_strerror(int rc)'),
  version: lib.func('const char *exitleft_version(void)'),
  stageStats: lib.func('int exitleft_stage_stats(void *stage, _Out_ exitleft_stats *stats, size_t size)'),
  ticketFd: lib.func('int exitleft_ticket_fd(void *ticket)'),
  enterStart: lib.func('int exitleft_enter_start(void *ticket)'),
  enterPoll: lib.func('int exitleft_enter_poll(void *ticket)'),
  enterCancel: lib.func('int exitleft_enter_cancel(void *ticket)'),
  ticketLimit: lib.func('int exitleft_ticket_limit(void *ticket, size_t max_items)'),
  // libc, for the one wait that watches every pending ticket
  epollCreate1: libc.func('int epoll_create1(int flags)'),
  epollCtl: libc.func('int epoll_ctl(int epfd, int op, int fd, uint8_t *event)'),
  epollWait: libc.func('int epoll_wait(int epfd, _Out_ uint8_t *events, int maxevents, int timeout)'),
  eventfd: libc.func('int eventfd(unsigned int initval, int flags)'),
  write: libc.func('intptr_t write(int fd, const uint8_t *buf, size_t count)'),
  read: libc.func('intptr_t read(int fd, _Out_ uint8_t *buf, size_t count)'),
  // libc, for values copied to another thread's tickets: addresses as integers, as C's
  // items are
  malloc: libc.func('uintptr_t malloc(size_t size)'),
  free: libc.func('void free(uintptr_t ptr)'),
  copyIn: libc.func('uintptr_t memcpy(uintptr_t dest, const uint8_t *src, size_t n)'),
  copyOut: libc.func('uintptr_t memcpy(_Out_ uint8_t *dest, uintptr_t src, size_t n)'),
};

const ERRNO_NAMES = Object.fromEntries(Object.entries(os.constants.errno).map(([k, v]) => [v, k]));

function fail(rc, what) {
  const errno = -rc;
  const code = ERRNO_NAMES[errno] || `E${errno}`;
  const err = new Error(`${what}: ${c.strerror(rc)} (${code})`);
  err.code = code;
  err.errno = errno;
  return err;
}

function check(rc, what) {
  if (rc < 0) throw fail(rc, what);
  return rc;
}

function tokenBytes(token) {
  if (typeof token === 'string') return Buffer.from(token, 'utf8');
  if (token instanceof Uint8Array) return token;
  throw new TypeError(`a token is a string, Buffer or Uint8Array, not ${typeof token}`);
}

// A token's bytes as a Map key.
function tokenKey(t) {
  return Buffer.from(t.buffer, t.byteOffset, t.length).toString('latin1');
}

// ---- values copied to another thread's tickets ----------------------------------------
// A copy is one malloc()ed block: a 16-byte header (CLONE_MAGIC, 0, the payload's length as
// a 64-bit integer) and v8.serialize()'s bytes. malloc() aligns to 16, so its address is
// even, and never mistaken for a Map id (odd).

const CLONE_MAGIC = 0x564c5845; // 'EXLV'
const CLONE_HEADER = 16;

function unknownItem(item, why) {
  const err = new Error(`exitleft: the item taken (${item}) is ${why}: ` +
    'its value cannot be reached (delivered by other code than this binding?)');
  err.code = 'ERR_EXITLEFT_UNKNOWN_ITEM';
  return err;
}

// The copy of `value`; throws, copying nothing, if it cannot be cloned.
function cloneIn(value) {
  let bytes;
  try {
    bytes = v8.serialize(value);
  } catch (cause) {
    const err = new Error('exitleft: a value delivered to a ticket of another Stage object ' +
      `(another thread's) is copied, and this one cannot be: ${cause.message}`, { cause });
    err.code = 'ERR_EXITLEFT_NOT_CLONEABLE';
    throw err;
  }
  const ptr = c.malloc(CLONE_HEADER + bytes.length);
  if (!ptr) throw fail(-os.constants.errno.ENOMEM, 'exitleft_deliver');
  const header = Buffer.alloc(CLONE_HEADER);
  header.writeUInt32LE(CLONE_MAGIC, 0);
  header.writeBigUInt64LE(BigInt(bytes.length), 8);
  c.copyIn(ptr, header, CLONE_HEADER);
  c.copyIn(ptr + CLONE_HEADER, bytes, bytes.length);
  return ptr;
}

// The length of the copy at `ptr`, or -1 if ptr holds no copy of ours.
function cloneLength(ptr) {
  const header = Buffer.alloc(CLONE_HEADER);
  c.copyOut(header, ptr, CLONE_HEADER);
  if (header.readUInt32LE(0) !== CLONE_MAGIC || header.readUInt32LE(4) !== 0) return -1;
  return Number(header.readBigUInt64LE(8));
}

// The value copied at `ptr`; the memory is freed.
function cloneOut(ptr) {
  const len = cloneLength(ptr);
  if (len < 0) throw unknownItem(ptr, 'no value of this binding');
  const bytes = Buffer.alloc(len);
  c.copyOut(bytes, ptr + CLONE_HEADER, len);
  c.free(ptr);
  return v8.deserialize(bytes);
}

/** The running library's version, such as '1.2.0'. */
function version() {
  return c.version();
}

// ---- the one wait of this thread: epoll over the descriptors of pending tickets ----------

const EPOLL_CLOEXEC = 0o2000000, EFD_CLOEXEC = 0o2000000, EFD_NONBLOCK = 0o4000;
const EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLLIN = 1;
// struct epoll_event is packed on x86-64 (12 bytes), naturally aligned elsewhere (16).
const EV_SIZE = process.arch === 'x64' ? 12 : 16;
const EV_DATA = process.arch === 'x64' ? 4 : 8;
const MAX_EVENTS = 64;

const poller = {
  epfd: -1,
  wakefd: -1,
  waiting: new Map(), // ticket id -> { ticket, resolve, reject, timer }
  inFlight: false,

  setup() {
    if (this.epfd >= 0) return;
    this.epfd = c.epollCreate1(EPOLL_CLOEXEC);
    this.wakefd = c.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (this.epfd < 0 || this.wakefd < 0) throw new Error('exitleft: epoll_create1 or eventfd failed');
    this.ctl(EPOLL_CTL_ADD, this.wakefd, 0);
  },

  ctl(op, fd, id) {
    const ev = Buffer.alloc(EV_SIZE);
    ev.writeUInt32LE(EPOLLIN, 0);
    ev.writeBigUInt64LE(BigInt(id), EV_DATA);
    return c.epollCtl(this.epfd, op, fd, ev);
  },

  watch(ticket) {
    this.setup();
    if (ticket._fd < 0) {
      const fd = check(c.ticketFd(ticket._handle()), 'exitleft_ticket_fd');
      if (this.ctl(EPOLL_CTL_ADD, fd, ticket._id) < 0) throw new Error('exitleft: epoll_ctl failed');
      ticket._fd = fd;
    }
  },

  unwatch(ticket) {
    if (ticket._fd >= 0) {
      this.ctl(EPOLL_CTL_DEL, ticket._fd, ticket._id);
      ticket._fd = -1;
    }
  },

  add(entry) {
    this.waiting.set(entry.ticket._id, entry);
    this.arm();
  },

  arm() {
    if (this.inFlight || this.waiting.size === 0) return;
    this.inFlight = true;
    const events = Buffer.alloc(EV_SIZE * MAX_EVENTS);
    this.wait(this.epfd, events, MAX_EVENTS, (err, n) => {
      this.inFlight = false;
      if (err) {
        // Nothing watches these tickets any more: give each pending enter up.
        for (const entry of [...this.waiting.values()]) this.abandon(entry, err);
      } else {
        for (let i = 0; i < n; i++) {
          const id = Number(events.readBigUInt64LE(i * EV_SIZE + EV_DATA));
          if (id === 0) {
            c.read(this.wakefd, Buffer.alloc(8), 8); // drained; it only woke us
            continue;
          }
          const entry = this.waiting.get(id);
          if (!entry) continue; // collected already (a timeout's cancel got there first)
          const rc = c.enterPoll(entry.ticket._handle());
          if (rc !== PENDING) this.settle(entry, rc);
        }
      }
      this.arm();
    });
  },

  // The one wait, on a koffi worker (a method, so that the tests can make it fail).
  wait(epfd, events, maxEvents, callback) {
    c.epollWait.async(epfd, events, maxEvents, -1, callback);
  },

  // Settles a waiting enter with rc (an outcome or -errno), or with err.
  settle(entry, rc, err) {
    this.waiting.delete(entry.ticket._id);
    entry.ticket._entering = null;
    if (entry.timer) clearTimeout(entry.timer);
    if (err) entry.reject(err);
    else if (rc < 0) entry.reject(fail(rc, 'exitleft_enter'));
    else entry.resolve(OUTCOMES[rc]);
    // Nothing left to watch: end the wait in flight, so it holds no worker and does not
    // keep the process alive.
    if (this.waiting.size === 0 && this.inFlight) {
      const one = Buffer.alloc(8);
      one.writeBigUInt64LE(1n, 0);
      c.write(this.wakefd, one, 8);
    }
  },

  cancel(entry) {
    this.settle(entry, c.enterCancel(entry.ticket._handle()));
  },

  // Gives up a pending enter whose wait failed with err, as a timeout does, so that the
  // ticket is out of line and can enter again (C would refuse its next enter or free with
  // EBUSY otherwise). An enter decided first resolves with its outcome, as after a timeout:
  // HEAD included, which its caller exits as after any enter; dropping it would leave the
  // stage headless for good. Only an undecided one rejects with err.
  abandon(entry, err) {
    const rc = c.enterCancel(entry.ticket._handle());
    if (rc === TIMEOUT) this.settle(entry, null, err);
    else this.settle(entry, rc);
  },
};

// ---- Stage and Ticket -----------------------------------------------------------------

let nextTicketId = 1; // per thread: the poller's key (0 is its wake descriptor)

class Stage {
  /** A new, open stage. `attach` is for Stage.attach() only. */
  constructor(attach) {
    this._items = new Map(); // id -> value delivered and not taken yet
    this._nextItem = 1; // odd: 0 would be a NULL item, which C refuses; even ones are copies
    this._tickets = new Map(); // token key -> live Ticket made from this object
    if (attach !== undefined) {
      this._ptr = attach;
      this._owner = false;
      return;
    }
    const out = [null];
    check(c.stageNew(out), 'exitleft_stage_new');
    this._ptr = out[0];
    this._owner = true;
  }

  /**
   * What another thread (a worker_threads Worker) passes to Stage.attach() to use this
   * stage: a plain, cloneable object. The stage must outlive every attached handle.
   */
  share() {
    return { exitleftStage: koffi.address(this._handle()) };
  }

  /**
   * A handle, in another thread, on a stage shared with share(): everything works but
   * free(), which is the owner's. Values delivered between threads are copies (deliver()).
   */
  static attach(shared) {
    // The address, stored as a pointer-sized integer, read back as a pointer of our type.
    const cell = Buffer.alloc(koffi.sizeof('void *'));
    cell.writeBigUInt64LE(BigInt(shared.exitleftStage), 0);
    return new Stage(koffi.decode(cell, 'void *'));
  }

  _handle() {
    if (this._ptr === null) throw fail(-os.constants.errno.EINVAL, 'exitleft: the stage was freed');
    return this._ptr;
  }

  /** A new Ticket of this stage for `token` (a string, Buffer or Uint8Array of 1 to 128 bytes). */
  ticket(token) {
    return new Ticket(this, token);
  }

  /** Wakes the holder of `token` (only it), or records the notification; false if nobody holds it. */
  notify(token) {
    const t = tokenBytes(token);
    return check(c.notify(this._handle(), t, t.length), 'exitleft_notify') === 1;
  }

  /**
   * Puts `value` (any value but undefined) in the mailbox of the holder of `token` and wakes
   * it. Returns false, keeping nothing, if no ticket holds the token; throws ENOBUFS if its
   * mailbox is full. A ticket made from this Stage object takes `value` itself; any other
   * (one made in a Worker, or from another handle on the stage) takes a copy, as
   * postMessage() would make one: a value that cannot be copied (a function, a symbol) is
   * refused with code 'ERR_EXITLEFT_NOT_CLONEABLE', delivering nothing.
   */
  deliver(token, value) {
    if (value === undefined) throw new TypeError('undefined cannot be delivered: take() returns it for "empty"');
    const t = tokenBytes(token);
    const stage = this._handle();
    // A ticket of this object stays this thread's until it is freed here, and C gives a
    // token to one ticket at a time: if it holds the token now, the id reaches it.
    if (this._tickets.has(tokenKey(t))) {
      const id = this._nextItem;
      this._nextItem += 2;
      this._items.set(id, value);
      const rc = c.deliver(stage, t, t.length, id);
      if (rc !== 1) this._items.delete(id);
      return check(rc, 'exitleft_deliver') === 1;
    }
    const ptr = cloneIn(value);
    const rc = c.deliver(stage, t, t.length, ptr);
    if (rc !== 1) c.free(ptr);
    return check(rc, 'exitleft_deliver') === 1;
  }

  // The value of an item taken from a ticket of this object; throws if it has none.
  _open(item) {
    if (Number(item) % 2 === 0) return cloneOut(item);
    const id = Number(item);
    if (!this._items.has(id)) throw unknownItem(id, 'not a value of this Stage object');
    const value = this._items.get(id);
    this._items.delete(id);
    return value;
  }

  // Forgets an item taken from a ticket being freed.
  _drop(item) {
    if (Number(item) % 2 !== 0) this._items.delete(Number(item));
    else if (cloneLength(item) >= 0) c.free(item);
  }

  /** Every waiter's enter resolves to CLOSED, later enters too; new tickets are refused. */
  close() {
    check(c.stageClose(this._handle()), 'exitleft_stage_close');
  }

  /** The stage's counters, as numbers. */
  stats() {
    const st = {};
    check(c.stageStats(this._handle(), st, koffi.sizeof(Stats)), 'exitleft_stage_stats');
    return Object.fromEntries(Object.entries(st).map(([k, v]) => [k, Number(v)]));
  }

  /** Frees the stage; its tickets must have been freed (else EBUSY). */
  free() {
    if (this._ptr === null || !this._owner) return;
    check(c.stageFree(this._ptr), 'exitleft_stage_free');
    this._ptr = null;
  }
}

class Ticket {
  constructor(stage, token) {
    this.stage = stage;
    this.token = Buffer.from(tokenBytes(token));
    const out = [null];
    check(c.ticketNew(stage._handle(), this.token, this.token.length, out), 'exitleft_ticket_new');
    this._ptr = out[0];
    this._id = nextTicketId++;
    this._fd = -1;
    this._entering = null;
    stage._tickets.set(tokenKey(this.token), this);
  }

  _handle() {
    if (this._ptr === null) throw fail(-os.constants.errno.EINVAL, 'exitleft: the ticket was freed');
    return this._ptr;
  }

  /**
   * Waits for headship or for this token's events; resolves to an Outcome. `timeoutMs`
   * undefined: no limit; 0: a try that does not wait. The main thread never blocks.
   */
  enter({ timeoutMs } = {}) {
    return new Promise((resolve, reject) => {
      const rc = c.enterStart(this._handle());
      if (rc < 0) return reject(fail(rc, 'exitleft_enter'));
      if (rc !== PENDING) return resolve(OUTCOMES[rc]);
      const entry = { ticket: this, resolve, reject, timer: null };
      this._entering = entry;
      try {
        poller.watch(this);
      } catch (err) {
        c.enterCancel(this._ptr);
        this._entering = null;
        return reject(err);
      }
      if (timeoutMs !== undefined && timeoutMs !== null && timeoutMs !== Infinity) {
        if (!(timeoutMs > 0)) { // a try: give the pending enter up at once
          poller.cancel(entry);
          return;
        }
        entry.timer = setTimeout(() => poller.cancel(entry), timeoutMs);
      }
      poller.add(entry);
    });
  }

  /** Stops heading: the ticket that has waited longest is promoted. EPERM if not head. */
  exit() {
    check(c.exit(this._handle()), 'exitleft_exit');
  }

  /**
   * The oldest value in this ticket's mailbox, or undefined if it is empty. An item whose
   * value cannot be found (an id that no value of the stage has, or an address that holds
   * no copy) is taken all the same, and thrown as an Error with code
   * 'ERR_EXITLEFT_UNKNOWN_ITEM': never mistaken for an empty mailbox. Only this binding
   * may deliver to its tickets: C code delivering its own pointers to them is not
   * supported (an even item is read as the address of a copy).
   */
  take() {
    const out = [0];
    if (check(c.take(this._handle(), out), 'exitleft_take') === 0) return undefined;
    return this.stage._open(out[0]);
  }

  /** Bounds the mailbox: deliver() past `maxItems` throws ENOBUFS. 0: no limit. */
  limit(maxItems) {
    check(c.ticketLimit(this._handle(), maxItems), 'exitleft_ticket_limit');
  }

  /**
   * Gives the token back. A pending enter is given up first (its promise resolves with
   * TIMEOUT, or the outcome decided before), what the mailbox holds is dropped, and if the
   * ticket heads the stage it exits.
   */
  free() {
    if (this._ptr === null) return;
    if (this._entering) poller.cancel(this._entering);
    const out = [0];
    while (check(c.take(this._ptr, out), 'exitleft_take') === 1) this.stage._drop(out[0]);
    poller.unwatch(this);
    check(c.ticketFree(this._ptr), 'exitleft_ticket_free');
    this._ptr = null;
    this.stage._tickets.delete(tokenKey(this.token));
  }
}

// _poller is for the tests only.
module.exports = { Stage, Ticket, Outcome, TOKEN_MAX, version, _poller: poller };
