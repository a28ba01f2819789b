#!/usr/bin/env python3
"""tftp-protocol.py TFTPD - exitleft-tftpd against crafted packets.

Starts the server (several times, with the options each check needs) on loopback over a
temporary root and checks, packet by packet: strays and malformed packets, option limits,
paths that try to leave the root, upload rules and caps, no Sorcerer's Apprentice, bounded
retries ending with an ERROR, the per-client limit, netascii, windows with a lost block, a
repeated request, a client's next request from the same port, and a clean stop on SIGTERM.
No check depends on timing: where a packet must not come, a later packet that must come
shows it did not (one socket's datagrams on loopback arrive in order); every wait for a
packet is bounded by a generous patience.
"""
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile

PATIENCE = 20.0
TFTPD = sys.argv[1]
ROOT = tempfile.mkdtemp(prefix="tftp-protocol-")
FAILED = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILED.append(what)


class Server:
    def __init__(self, *opts):
        self.proc = subprocess.Popen([TFTPD, "--root", ROOT, "--listen", "127.0.0.1:0"]
                                     + list(opts), stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            sys.exit("server did not start: " + line)
        self.port = int(line.split("listening on ")[1].split(",")[0].rsplit(":", 1)[1])

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out = self.proc.stdout.read()
        self.proc.wait(timeout=PATIENCE)
        return out


class Client:
    def __init__(self, port):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.s.settimeout(PATIENCE)
        self.port = port
        self.peer = ("127.0.0.1", port)

    def send(self, pkt):
        self.s.sendto(pkt, self.peer)

    def recv(self):
        pkt, addr = self.s.recvfrom(70000)
        check(addr[1] == self.port, "reply comes from the listening port")
        return pkt

    def close(self):
        self.s.close()


def req(op, name, mode=b"octet", *opts):
    return struct.pack("!H", op) + name + b"\0" + mode + b"\0" + b"".join(
        o + b"\0" for o in opts)


def ack(n):
    return struct.pack("!HH", 4, n & 0xffff)


def data(n, payload):
    return struct.pack("!HH", 3, n & 0xffff) + payload


def kind(pkt):
    op = struct.unpack("!H", pkt[:2])[0]
    if op == 5:
        return ("ERROR", struct.unpack("!H", pkt[2:4])[0])
    if op in (3, 4):
        return ({3: "DATA", 4: "ACK"}[op], struct.unpack("!H", pkt[2:4])[0])
    return ({6: "OACK"}.get(op, str(op)), None)


def expect_error(c, pkt, code, what):
    c.send(pkt)
    got = kind(c.recv())
    check(got == ("ERROR", code), "%s -> ERROR %d (got %s)" % (what, code, got))


def write(name, content):
    path = os.path.join(ROOT, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(content)


def download(c, name, mode=b"octet", *opts, blksize=512):
    """Lock-step RRQ with options; returns the file's bytes."""
    c.send(req(1, name, mode, *opts))
    out, n = b"", 1
    pkt = c.recv()
    if kind(pkt)[0] == "OACK":
        c.send(ack(0))
        pkt = c.recv()
    while True:
        k = kind(pkt)
        check(k == ("DATA", n & 0xffff), "DATA %d in order (got %s)" % (n, k))
        out += pkt[4:]
        c.send(ack(n))
        if len(pkt) - 4 < blksize:
            return out
        n += 1
        pkt = c.recv()


def upload(c, name, content, mode=b"octet", blksize=512):
    c.send(req(2, name, mode))
    check(kind(c.recv()) == ("ACK", 0), "WRQ %s -> ACK 0" % name)
    n = 0
    while True:
        chunk = content[n * blksize:(n + 1) * blksize]
        n += 1
        c.send(data(n, chunk))
        got = kind(c.recv())
        if got[0] == "ERROR":
            return got
        check(got == ("ACK", n & 0xffff), "ACK %d (got %s)" % (n, got))
        if len(chunk) < blksize:
            return got


def strays_and_malformed():
    srv = Server()
    c = Client(srv.port)
    expect_error(c, ack(1), 5, "stray ACK")
    expect_error(c, data(7, b"x"), 5, "stray DATA")
    expect_error(c, struct.pack("!H", 9) + b"junk", 4, "unknown opcode 9")
    expect_error(c, struct.pack("!H", 1) + b"no-nul", 4, "RRQ without NUL")
    expect_error(c, struct.pack("!H", 1) + b"f\0octet", 4, "RRQ with mode unterminated")
    expect_error(c, req(1, b"f", b"mail"), 4, "mode mail")
    expect_error(c, req(1, b"", b"octet"), 4, "empty file name")
    expect_error(c, req(1, b"f", b"octet", b"blksize"), 4, "option without value")
    expect_error(c, req(1, b"f", b"octet", b"blksize", b"512", b"BLKSIZE", b"512"), 8,
                 "duplicate option")
    expect_error(c, req(1, b"f", b"octet", b"blksize", b"3"), 8, "blksize 3")
    expect_error(c, req(1, b"f", b"octet", b"blksize", b"9" * 40), 8, "blksize of 40 digits")
    expect_error(c, req(1, b"f", b"octet", b"timeout", b"0"), 8, "timeout 0")
    expect_error(c, req(1, b"f", b"octet", b"windowsize", b"-1"), 8, "windowsize -1")
    expect_error(c, req(1, b"x" * 2000, b"octet"), 4, "file name of 2000 bytes")
    # Nothing answers a lone byte or an ERROR: the stray ACK sent after them is answered
    # first (one socket's datagrams arrive in order).
    c.send(b"\x00")
    c.send(struct.pack("!HH", 5, 0) + b"hi\0")
    expect_error(c, ack(3), 5, "nothing for a 1-byte datagram or an ERROR; stray ACK")
    c.close()
    out = srv.stop()
    check("0 started" in out, "no thread was started for any of them")


def paths_and_uploads():
    write("inside.bin", b"inside")
    write("sub/deep.bin", b"deep")
    os.symlink("/etc/passwd", os.path.join(ROOT, "link-out"))
    os.symlink("inside.bin", os.path.join(ROOT, "link-in"))
    os.symlink("/", os.path.join(ROOT, "sub", "rootlink"))
    srv = Server("--max-upload", "2000")
    ro = Server()
    c = Client(srv.port)
    check(download(c, b"link-in") == b"inside", "a link that stays inside is served")
    check(download(c, b"/sub/deep.bin") == b"deep", "a leading slash means the root")
    expect_error(c, req(1, b"../etc/passwd"), 2, "RRQ ../etc/passwd")
    expect_error(c, req(1, b"sub/../../etc/passwd"), 2, "RRQ sub/../../etc/passwd")
    expect_error(c, req(1, b"/etc/passwd"), 1, "RRQ /etc/passwd (looked up beneath the root)")
    expect_error(c, req(1, b"link-out"), 2, "RRQ of a link out of the root")
    expect_error(c, req(1, b"sub/rootlink/etc/passwd"), 2, "RRQ through a link to /")
    expect_error(c, req(1, b"sub"), 2, "RRQ of a directory")
    expect_error(c, req(1, b"missing"), 1, "RRQ of a missing file")
    expect_error(Client(ro.port), req(2, b"new.bin"), 2, "WRQ to a read-only server")
    expect_error(c, req(2, b"new.bin"), 2, "WRQ without --create")
    ro.stop()
    srv.stop()

    srv = Server("--create", "--max-upload", "2000")
    c = Client(srv.port)
    expect_error(c, req(2, b"inside.bin"), 6, "WRQ over an existing file")
    expect_error(c, req(2, b"../escape.bin"), 2, "WRQ ../escape.bin")
    expect_error(c, req(2, b"sub/rootlink/tmp/escape.bin"), 2, "WRQ through a link to /")
    expect_error(c, req(2, b"big.bin", b"octet", b"tsize", b"2001"), 3,
                 "WRQ announcing 2001 bytes over a 2000-byte cap")
    got = upload(c, b"big.bin", b"z" * 2600)
    check(got == ("ERROR", 3), "WRQ sending 2600 bytes over a 2000-byte cap -> ERROR 3")
    check(not os.path.exists(os.path.join(ROOT, "big.bin")), "no partial file left")
    check(upload(c, b"ok.bin", b"y" * 1500) == ("ACK", 3), "WRQ of 1500 bytes")
    with open(os.path.join(ROOT, "ok.bin"), "rb") as f:
        check(f.read() == b"y" * 1500, "upload stored byte for byte")
    check(not [n for n in os.listdir(ROOT) if n.startswith(".exitleft")],
          "no temporary file left")
    srv.stop()


def sorcerer_and_retries():
    write("three.bin", bytes(range(256)) * 5)	# 1280 bytes: 3 blocks
    srv = Server("--timeout", "30")
    c = Client(srv.port)
    c.send(req(1, b"three.bin"))
    check(kind(c.recv()) == ("DATA", 1), "DATA 1")
    c.send(ack(1))
    c.send(ack(1))
    c.send(ack(2))
    check(kind(c.recv()) == ("DATA", 2), "DATA 2 after ACK 1")
    check(kind(c.recv()) == ("DATA", 3), "a duplicate ACK 1 draws no second DATA 2")
    c.send(ack(3))
    # A repeated request while the first answer is outstanding: only that answer again.
    c2 = Client(srv.port)
    c2.send(req(1, b"three.bin"))
    check(kind(c2.recv()) == ("DATA", 1), "DATA 1")
    c2.send(req(1, b"three.bin"))
    check(kind(c2.recv()) == ("DATA", 1), "a repeated RRQ draws DATA 1 again, once")
    c2.send(ack(5))
    c2.send(ack(1))
    check(kind(c2.recv()) == ("DATA", 2), "an ACK of a block never sent is ignored")
    c2.send(struct.pack("!HH", 5, 0) + b"bye\0")
    srv.stop()

    srv = Server("--timeout", "0.05", "--retries", "3")
    c = Client(srv.port)
    c.send(req(1, b"three.bin"))
    seen = [kind(c.recv()) for _ in range(5)]
    check(seen == [("DATA", 1)] * 4 + [("ERROR", 0)],
          "RRQ never acknowledged: DATA 1 and 3 retransmissions, then ERROR (%s)" % seen)
    out = srv.stop()
    check("1 timed out" in out, "counted as timed out")

    srv = Server("--timeout", "0.05", "--retries", "2", "--create")
    c = Client(srv.port)
    c.send(req(2, b"never.bin"))
    seen = [kind(c.recv()) for _ in range(4)]
    check(seen == [("ACK", 0)] * 3 + [("ERROR", 0)],
          "WRQ never continued: ACK 0 and 2 retransmissions, then ERROR (%s)" % seen)
    srv.stop()
    check(not os.path.exists(os.path.join(ROOT, "never.bin")), "no file for a failed upload")


def limits():
    srv = Server("--per-client", "2", "--timeout", "30")
    cs = [Client(srv.port) for _ in range(3)]
    for c in cs[:2]:
        c.send(req(1, b"three.bin"))
        check(kind(c.recv()) == ("DATA", 1), "transfer within the per-client limit")
    expect_error(cs[2], req(1, b"three.bin"), 0, "a third transfer from one address")
    out = srv.stop()
    check("1 busy" in out and "2 aborted" in out,
          "counted busy; the two live transfers aborted by the stop")
    for c in cs[:2]:
        check(kind(c.recv()) == ("ERROR", 0), "a live transfer gets an ERROR at the stop")


def netascii_and_windows():
    text = b"line one\nline two\r\nbare\rcr\n" * 40 + b"end\r"
    write("text.txt", text)
    srv = Server("--create", "--blksize-max", "64", "--windowsize-max", "4")
    c = Client(srv.port)
    wire = text.replace(b"\r", b"\r\0").replace(b"\n", b"\r\n")
    check(download(c, b"text.txt", b"netascii") == wire, "netascii RRQ: CR LF and CR NUL")
    check(upload(Client(srv.port), b"text-up.txt", wire, b"netascii")[0] == "ACK",
          "netascii WRQ")
    with open(os.path.join(ROOT, "text-up.txt"), "rb") as f:
        check(f.read() == text, "netascii WRQ decoded back to the original")
    # Window of 4 blocks of 8 bytes; block 2 "lost": ACK 1 makes the server resend from 2.
    content = bytes(range(100))
    write("win.bin", content)
    c = Client(srv.port)
    c.send(req(1, b"win.bin", b"octet", b"blksize", b"8", b"windowsize", b"4", b"tsize", b"0"))
    oack = c.recv()
    check(kind(oack)[0] == "OACK" and b"tsize\x00100\x00" in oack and
          b"windowsize\x004\x00" in oack, "OACK with blksize, tsize 100, windowsize 4")
    c.send(ack(0))
    first = [kind(c.recv()) for _ in range(4)]
    check(first == [("DATA", n) for n in (1, 2, 3, 4)], "a window of 4 DATA")
    c.send(ack(1))
    again = [kind(c.recv()) for _ in range(4)]
    check(again == [("DATA", n) for n in (2, 3, 4, 5)],
          "ACK 1 mid-window: the window restarts at block 2")
    c.send(struct.pack("!HH", 5, 0) + b"enough\0")
    check(download(Client(srv.port), b"win.bin", b"octet", b"blksize", b"8",
                   blksize=8) == content, "blksize 8 download")
    c = Client(srv.port)
    c.send(req(1, b"win.bin", b"octet", b"blksize", b"65464"))
    check(b"blksize\x0064\x00" in c.recv(), "blksize negotiated down to --blksize-max")
    c.send(struct.pack("!HH", 5, 8) + b"no\0")
    srv.stop()


def answer(c, patience):
    """The kind of the next packet, or ("nothing", None) if none came within patience."""
    c.s.settimeout(patience)
    try:
        return kind(c.recv())
    except socket.timeout:
        return ("nothing", None)
    finally:
        c.s.settimeout(PATIENCE)


def next_request_same_port():
    """tftp-hpa's interactive client keeps one socket for a session: after a put, its next
    request comes from the same port while the server still dallies, ready to ACK a repeated
    last DATA. That request must start the next transfer at once. The server dallies 60 s
    (--timeout 60), each request is sent once and its answer awaited 10 s: an answer can
    only come from a dally the request cut short; a request swallowed, or kept until the
    dally ends, gets none in time."""
    nxt = 10.0
    write("next.bin", b"n" * 700)
    srv = Server("--create", "--timeout", "60")
    # The only transfer: its own thread heads the stage and reads the RRQ itself.
    c = Client(srv.port)
    check(upload(c, b"next-1.bin", b"u" * 100) == ("ACK", 1), "WRQ done, the server dallies")
    c.send(req(1, b"next.bin"))
    got = answer(c, nxt)
    check(got == ("DATA", 1), "RRQ from the same port at once: DATA 1 (got %s)" % (got,))
    if got != ("DATA", 1):
        srv.stop()
        return
    c.send(ack(1))
    check(kind(c.recv()) == ("DATA", 2), "DATA 2")
    c.send(ack(2))
    # A transfer never acknowledged (60 s timeout) heads the stage from now on: another
    # client's datagrams reach their transfer's thread through its mailbox.
    c2 = Client(srv.port)
    c2.send(req(1, b"next.bin"))
    check(kind(c2.recv()) == ("DATA", 1), "a transfer that stays, to head the stage")
    c2.send(req(1, b"next.bin"))
    check(kind(c2.recv()) == ("DATA", 1), "... it answers its repeated request")
    c3 = Client(srv.port)
    check(upload(c3, b"next-2.bin", b"v" * 600) == ("ACK", 2), "WRQ done, the server dallies")
    c3.send(req(2, b"next-3.bin", b"octet", b"blksize", b"1024"))
    got = answer(c3, nxt)
    check(got == ("OACK", None), "WRQ from the same port at once: OACK (got %s)" % (got,))
    if got != ("OACK", None):
        srv.stop()
        return
    c3.send(data(1, b"w" * 10))
    check(kind(c3.recv()) == ("ACK", 1), "ACK 1")
    # During a transfer, a request of another kind is no new transfer: it is ignored.
    c3.send(req(2, b"next-4.bin"))
    check(kind(c3.recv()) == ("ACK", 0), "WRQ while dallying again -> ACK 0")
    c3.send(data(1, b"x" * 512))
    check(kind(c3.recv()) == ("ACK", 1), "ACK 1")
    c3.send(req(1, b"next.bin"))
    c3.send(data(2, b"x" * 3))
    check(kind(c3.recv()) == ("ACK", 2), "a RRQ in the middle of an upload draws nothing")
    out = srv.stop()
    for name, content in (("next-1.bin", b"u" * 100), ("next-2.bin", b"v" * 600),
                          ("next-3.bin", b"w" * 10), ("next-4.bin", b"x" * 515)):
        with open(os.path.join(ROOT, name), "rb") as f:
            check(f.read() == content, "%s stored" % name)
    check("6 started (2 reads, 4 writes), 5 done" in out and "0 retransmitted" in out,
          "a transfer for every request, each request sent once")


def main():
    try:
        strays_and_malformed()
        paths_and_uploads()
        sorcerer_and_retries()
        limits()
        netascii_and_windows()
        next_request_same_port()
    finally:
        subprocess.run(["rm", "-rf", ROOT])
    if FAILED:
        print("%d checks failed" % len(FAILED))
        sys.exit(1)
    print("all checks passed")


main()
