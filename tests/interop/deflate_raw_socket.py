#!/usr/bin/env python3
"""permessage-deflate (RFC 7692) byte for byte: a raw socket and Python's own zlib against tether's ws_echo.

    python3 deflate_raw_socket.py PORT        (ws_echo started with --deflate-threshold 0)

Python's zlib is an independent implementation of the sender's side: every echo the server sends must be
exactly the bytes Python's compressor produces with the agreed parameters (window size, context takeover,
zlib's default level and memLevel), starting with the RFC's own examples (7.2.3.1, 7.2.3.2), and every
message Python compresses must come back intact. Exit 0 when all match, 1 naming the first mismatch.
Every socket operation has a timeout, so a silent server fails the run instead of hanging it.
"""
import base64
import json
import os
import random
import socket
import sys
import zlib

TIMEOUT = 10.0
TAIL = b"\x00\x00\xff\xff"


def fail(message):
    print(f"deflate raw socket: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


class Connection:
    def __init__(self, port, offer):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock.settimeout(TIMEOUT)
        self.buffer = b""
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                   f"Sec-WebSocket-Extensions: {offer}\r\n\r\n")
        self.sock.sendall(request.encode())
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.recv()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        if not lines[0].startswith("HTTP/1.1 101"):
            fail(f"upgrade refused: {lines[0]}")
        self.extensions = ""
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-extensions":
                self.extensions = value.strip()

    def recv(self):
        data = self.sock.recv(65536)
        if not data:
            fail("the server closed the connection")
        return data

    def send_frame(self, opcode, payload, rsv1=False, fin=True):
        mask = os.urandom(4)
        first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
        n = len(payload)
        if n < 126:
            head = bytes([first, 0x80 | n])
        elif n < 65536:
            head = bytes([first, 0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head = bytes([first, 0x80 | 127]) + n.to_bytes(8, "big")
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def read_frame(self):
        """Returns (raw frame bytes, first byte, payload) of the next server frame."""
        while True:
            if len(self.buffer) >= 2:
                n = self.buffer[1] & 0x7F
                at = 2
                if n == 126:
                    at, n = 4, int.from_bytes(self.buffer[2:4], "big") if len(self.buffer) >= 4 else None
                elif n == 127:
                    at, n = 10, int.from_bytes(self.buffer[2:10], "big") if len(self.buffer) >= 10 else None
                if self.buffer[1] & 0x80:
                    fail("the server masked a frame (RFC 6455 5.1)")
                if n is not None and len(self.buffer) >= at + n:
                    frame, self.buffer = self.buffer[:at + n], self.buffer[at + n:]
                    return frame, frame[0], frame[at:]
            self.buffer += self.recv()

    def close(self):
        self.send_frame(0x8, (1000).to_bytes(2, "big"))
        _, first, payload = self.read_frame()
        if first & 0x0F != 0x8 or payload[:2] != (1000).to_bytes(2, "big"):
            fail(f"expected the Close 1000 echoed, got first byte {first:#x} payload {payload.hex()}")
        self.sock.close()


def deflate_payload(compressor, message):
    """RFC 7692 7.2.1: sync flush, then drop the trailing 00 00 ff ff."""
    if not message:
        return b"\x00"
    out = compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH)
    if not out.endswith(TAIL):
        fail("Python's sync flush did not end with 00 00 ff ff")
    return out[:-4]


def compressor(window_bits):
    # zlib refuses a 256-byte raw window; a 512-byte one never reaches past 250 bytes (see the C++ codec).
    return zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -max(window_bits, 9), 8)


def messages():
    rng = random.Random(7692)
    # "Hello" compresses to 7 bytes (RFC 7692 7.2.3.1), more than it saves: the server sends it plain. A
    # repeated 200-byte message is the RFC's 7.2.3.2 case: with context takeover, a single back-reference.
    ticker = b'{"sym":"ACME","px":1234.5,"size":100,"side":"buy","venue":"XNAS","ts":1700000000123}' * 2
    out = [b"Hello", b"Hello", b"", ticker, ticker]
    for size in (1, 30, 200, 1000, 5000, 40000, 70000):
        items = [{"sym": f"S{rng.randrange(40)}", "px": rng.randrange(10**6), "seq": i} for i in range(size // 30 + 1)]
        out.append(json.dumps(items).encode()[:size])
    repeat = out[-3]
    out.append(bytes(rng.randrange(256) for _ in range(3000)))  # incompressible: sent back plain
    out.append(repeat)                                           # ...and the context starts over after it
    return out


def run_case(port, offer, expected_response, window_bits, takeover):
    c = Connection(port, offer)
    if c.extensions != expected_response:
        fail(f"offer '{offer}': expected Sec-WebSocket-Extensions '{expected_response}', got '{c.extensions}'")
    client_takeover = "client_no_context_takeover" not in c.extensions              # ours, as agreed
    theirs = compressor(window_bits)                                              # the model of the server
    inflater = zlib.decompressobj(-window_bits)                                   # what reads the server
    ours = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15, 8)   # what we send
    for i, message in enumerate(messages()):
        if not client_takeover:
            ours = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15, 8)
        c.send_frame(0x2, deflate_payload(ours, message), rsv1=True)
        frame, first, payload = c.read_frame()
        if first & 0x0F != 0x2:
            fail(f"'{offer}' message {i}: expected a binary frame, got first byte {first:#x}")
        compressed = bool(first & 0x40)
        if compressed:
            got = inflater.decompress(payload + TAIL)
        else:
            got = payload
        if got != message:
            fail(f"'{offer}' message {i} ({len(message)} bytes): the echo differs ({len(got)} bytes)")
        if not message:
            if compressed:
                fail(f"'{offer}' message {i}: an empty message is smaller sent plain")
            continue
        expected = deflate_payload(theirs, message)
        if len(expected) >= len(message):
            # Deflate did not pay: the server sends it plain and starts its next message on a fresh window.
            if compressed:
                fail(f"'{offer}' message {i}: incompressible data should come back uncompressed")
            theirs = compressor(window_bits)
        elif not compressed:
            fail(f"'{offer}' message {i}: expected a compressed echo (RSV1), got first byte {first:#x}")
        elif payload != expected:
            fail(f"'{offer}' message {i}: the server's compressed bytes differ from Python's zlib:\n"
                 f"  server {payload[:48].hex()}...\n  python {expected[:48].hex()}...")
        if not takeover:
            theirs = compressor(window_bits)
        if i == 4 and takeover and len(payload) > 12:
            fail(f"'{offer}': a repeated message should compress to a back-reference, got {len(payload)} bytes")
        print(f"ok - {offer or '(none)'}: message {i}, {len(message)} bytes, "
              f"{'compressed to ' + str(len(payload)) if compressed else 'sent plain'}")
    c.close()


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    port = int(sys.argv[1])
    print(f"python zlib {zlib.ZLIB_RUNTIME_VERSION}")
    run_case(port, "permessage-deflate; client_max_window_bits", "permessage-deflate", 15, True)
    run_case(port, "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
             "permessage-deflate; server_no_context_takeover; client_no_context_takeover", 15, False)
    run_case(port, "permessage-deflate; server_max_window_bits=10",
             "permessage-deflate; server_max_window_bits=10", 10, True)
    run_case(port, "permessage-deflate; server_max_window_bits=8; client_max_window_bits",
             "permessage-deflate; server_max_window_bits=8", 8, True)
    # An offer the server must decline (an unknown parameter), then one it accepts.
    run_case(port, "permessage-deflate; x_unknown, permessage-deflate; server_no_context_takeover",
             "permessage-deflate; server_no_context_takeover", 15, False)
    print("deflate raw socket: every frame matched Python's zlib")


if __name__ == "__main__":
    main()
