#!/usr/bin/env python3
"""A test peer for Broker's native protocol (Broker 2.3+ / Zeek 5-8), stdlib only.

Written from the spec (/work/shared/spec/broker-native-wire.md), not from Broker's
sources, so that it checks our reading of the bytes independently of the Rust code.
It plays either end of the handshake, speaks phase 3 (data, command, routing_update,
ping, pong) and can send malformed frames.

As a library: `Conn`, `connector_handshake`, `acceptor_handshake`, the `pack_*`
functions and `encode_data`/`decode_data` (values are tagged tuples, see `encode_data`).

As a program:
    native_peer.py connect HOST PORT [--id UUID] [--topic T]...   # handshake, ping
    native_peer.py accept PORT [--id UUID] [--topic T]...         # wait for one peer
    native_peer.py malformed HOST PORT {bad-magic,unknown-tag,truncated,versions,oversize}
"""

import argparse
import ipaddress
import socket
import struct
import sys
import uuid

MAGIC = 0x5A45454B
VERSION = 1
(DATA, COMMAND, ROUTING_UPDATE, PING, PONG, HELLO, PROBE, VERSION_SELECT, DROP_CONN,
 ORIGINATOR_SYN, RESPONDER_SYN_ACK, ORIGINATOR_ACK) = range(1, 13)
NAMES = {v: k for k, v in globals().items() if isinstance(v, int) and k.isupper()
         and k not in ("MAGIC", "VERSION")}
NIL = uuid.UUID(int=0)
CONTROL_TOPIC = "<$>"


class ProtocolError(Exception):
    """The peer sent something the spec does not allow here."""


# -- primitives ---------------------------------------------------------------------

def varint(n):
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_varint(buf, pos):
    value = 0
    for i in range(5):
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if value > 0xFFFFFFFF:
                raise ProtocolError("varint above 32 bits")
            return value, pos
    raise ProtocolError("varint longer than 5 bytes")


def pack_bytes(b):
    return varint(len(b)) + b


def read_bytes(buf, pos):
    n, pos = read_varint(buf, pos)
    if pos + n > len(buf):
        raise ProtocolError("truncated")
    return bytes(buf[pos:pos + n]), pos + n


def pack_filter(topics):
    return varint(len(topics)) + b"".join(pack_bytes(t.encode()) for t in topics)


def read_filter(buf, pos):
    n, pos = read_varint(buf, pos)
    topics = []
    for _ in range(n):
        t, pos = read_bytes(buf, pos)
        topics.append(t.decode())
    return topics, pos


# -- data (format::bin v1) ----------------------------------------------------------
# Values are tagged tuples: ("none",), ("bool", b), ("count", n), ("int", n),
# ("real", f), ("str", bytes), ("addr", ip_address), ("subnet", ip_network),
# ("port", number, proto), ("time", ns), ("span", ns), ("enum", name),
# ("set", [v...]), ("table", [(k, v)...]), ("vec", [v...]). Sets and tables are
# written in the order given.

TAGS = ["none", "bool", "count", "int", "real", "str", "addr", "subnet", "port",
        "time", "span", "enum", "set", "table", "vec"]


def _addr16(addr):
    if addr.version == 4:
        return b"\x00" * 10 + b"\xff\xff" + addr.packed
    return addr.packed


def encode_data(v):
    kind = v[0]
    out = bytes([TAGS.index(kind)])
    if kind == "none":
        return out
    x = v[1]
    if kind == "bool":
        return out + bytes([1 if x else 0])
    if kind == "count":
        return out + struct.pack("!Q", x)
    if kind in ("int", "time", "span"):
        return out + struct.pack("!q", x)
    if kind == "real":
        return out + struct.pack("!d", x)
    if kind == "str":
        return out + pack_bytes(x)
    if kind == "enum":
        return out + pack_bytes(x.encode())
    if kind == "addr":
        return out + _addr16(x)
    if kind == "subnet":
        extra = 96 if x.version == 4 else 0
        return out + _addr16(x.network_address) + bytes([x.prefixlen + extra])
    if kind == "port":
        return out + struct.pack("!HB", x, v[2])
    if kind in ("set", "vec"):
        return out + varint(len(x)) + b"".join(encode_data(i) for i in x)
    if kind == "table":
        return out + varint(len(x)) + b"".join(encode_data(k) + encode_data(w) for k, w in x)
    raise ValueError(kind)


def decode_data(buf, pos=0):
    tag = buf[pos]
    pos += 1
    if tag >= len(TAGS):
        raise ProtocolError(f"unknown data tag {tag}")
    kind = TAGS[tag]
    if kind == "none":
        return ("none",), pos
    if kind == "bool":
        return ("bool", buf[pos] != 0), pos + 1
    if kind == "count":
        return ("count", struct.unpack_from("!Q", buf, pos)[0]), pos + 8
    if kind in ("int", "time", "span"):
        return (kind, struct.unpack_from("!q", buf, pos)[0]), pos + 8
    if kind == "real":
        return ("real", struct.unpack_from("!d", buf, pos)[0]), pos + 8
    if kind in ("str", "enum"):
        b, pos = read_bytes(buf, pos)
        return (kind, b if kind == "str" else b.decode()), pos
    if kind in ("addr", "subnet"):
        raw = bytes(buf[pos:pos + 16])
        pos += 16
        v4 = raw[:12] == b"\x00" * 10 + b"\xff\xff"
        addr = ipaddress.ip_address(raw[12:] if v4 else raw)
        if kind == "addr":
            return ("addr", addr), pos
        length = buf[pos] - (96 if v4 else 0)
        return ("subnet", ipaddress.ip_network((addr, length), strict=False)), pos + 1
    if kind == "port":
        number, proto = struct.unpack_from("!HB", buf, pos)
        if proto > 3:
            raise ProtocolError(f"port protocol {proto}")
        return ("port", number, proto), pos + 3
    n, pos = read_varint(buf, pos)
    items = []
    for _ in range(n):
        k, pos = decode_data(buf, pos)
        if kind == "table":
            w, pos = decode_data(buf, pos)
            k = (k, w)
        items.append(k)
    return (kind, items), pos


# -- handshake messages ---------------------------------------------------------------

def pack_hello(sender, vmin=VERSION, vmax=VERSION, magic=MAGIC):
    return struct.pack("!BI16sBB", HELLO, magic, sender.bytes, vmin, vmax)


def pack_probe():
    return struct.pack("!BI", PROBE, MAGIC)


def pack_version_select(sender, version=VERSION):
    return struct.pack("!BI16sB", VERSION_SELECT, MAGIC, sender.bytes, version)


def pack_drop_conn(sender, code, description):
    return struct.pack("!BI16sB", DROP_CONN, MAGIC, sender.bytes, code) + \
        pack_bytes(description.encode())


def pack_originator_syn(topics):
    return bytes([ORIGINATOR_SYN]) + pack_filter(topics)


def pack_responder_syn_ack(topics):
    return bytes([RESPONDER_SYN_ACK]) + pack_filter(topics)


def pack_originator_ack():
    return bytes([ORIGINATOR_ACK])


def parse_handshake(body):
    """(type, fields dict) of a handshake body."""
    tag = body[0]
    if tag in (HELLO, PROBE, VERSION_SELECT, DROP_CONN):
        (magic,) = struct.unpack_from("!I", body, 1)
        if magic != MAGIC:
            raise ProtocolError(f"bad magic {magic:#x}")
    if tag == HELLO:
        _, _, sender, vmin, vmax = struct.unpack("!BI16sBB", body[:23])
        return tag, {"sender": uuid.UUID(bytes=sender), "min": vmin, "max": vmax}
    if tag == PROBE:
        return tag, {}
    if tag == VERSION_SELECT:
        _, _, sender, version = struct.unpack("!BI16sB", body[:22])
        return tag, {"sender": uuid.UUID(bytes=sender), "version": version}
    if tag == DROP_CONN:
        _, _, sender, code = struct.unpack("!BI16sB", body[:22])
        description, _ = read_bytes(body, 22)
        return tag, {"sender": uuid.UUID(bytes=sender), "code": code,
                     "description": description.decode()}
    if tag in (ORIGINATOR_SYN, RESPONDER_SYN_ACK):
        return tag, {"filter": read_filter(body, 1)[0]}
    if tag == ORIGINATOR_ACK:
        return tag, {}
    raise ProtocolError(f"unknown handshake tag {tag}")


# -- phase 3 --------------------------------------------------------------------------

def pack_envelope(sender, receiver, kind, topic, payload, ttl=16):
    t = topic.encode()
    return sender.bytes + receiver.bytes + struct.pack("!BHH", kind, ttl, len(t)) + t + payload


def parse_envelope(body):
    sender, receiver = uuid.UUID(bytes=body[:16]), uuid.UUID(bytes=body[16:32])
    kind, ttl, tlen = struct.unpack_from("!BHH", body, 32)
    topic = body[37:37 + tlen].decode()
    payload = body[37 + tlen:]
    env = {"sender": sender, "receiver": receiver, "type": kind, "ttl": ttl,
           "topic": topic, "payload": payload}
    if kind == DATA:
        value, end = decode_data(payload)
        if end != len(payload):
            raise ProtocolError("trailing bytes after data")
        env["data"] = value
    elif kind == ROUTING_UPDATE:
        env["filter"] = read_filter(payload, 0)[0]
    return env


def pack_entity(endpoint, obj):
    return endpoint.bytes + struct.pack("!Q", obj)


def pack_nack(seq, sender, receiver, seqs):
    """A store command: `nack` (variant 11), as a clone sends to attach."""
    return struct.pack("!Q", seq) + pack_entity(*sender) + pack_entity(*receiver) + \
        bytes([11]) + varint(len(seqs)) + b"".join(struct.pack("!Q", s) for s in seqs)


def parse_command_header(payload):
    """seq, sender entity, receiver entity and variant index of a command payload."""
    seq, = struct.unpack_from("!Q", payload, 0)
    ents = []
    for off in (8, 32):
        ents.append((uuid.UUID(bytes=payload[off:off + 16]),
                     struct.unpack_from("!Q", payload, off + 16)[0]))
    return seq, ents[0], ents[1], payload[56]


# -- connection -----------------------------------------------------------------------

class Conn:
    """One TCP connection carrying length-prefixed frames."""

    def __init__(self, sock, timeout=10.0):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = b""

    @classmethod
    def connect(cls, host, port, timeout=10.0):
        return cls(socket.create_connection((host, port), timeout=timeout), timeout)

    def send(self, body):
        self.sock.sendall(struct.pack("!I", len(body)) + body)

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv(self):
        """The next frame body, or None when the peer closed."""
        while True:
            if len(self.buf) >= 4:
                (n,) = struct.unpack_from("!I", self.buf)
                if len(self.buf) >= 4 + n:
                    body, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
                    return body
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk

    def recv_handshake(self):
        body = self.recv()
        if body is None:
            raise ProtocolError("connection closed during the handshake")
        return parse_handshake(body)

    def close(self):
        self.sock.close()


def _expect(conn, *kinds):
    kind, fields = conn.recv_handshake()
    if kind == DROP_CONN:
        raise ProtocolError(f"dropped: {fields['code']} {fields['description']}")
    if kind not in kinds:
        raise ProtocolError(f"expected {[NAMES[k] for k in kinds]}, got {NAMES[kind]}")
    return kind, fields


def _finish(conn, own, peer, topics, originator):
    """The common tail of both roles; returns (peer id, peer filter, originator)."""
    if originator:
        conn.send(pack_version_select(own))
        conn.send(pack_originator_syn(topics))
        _, fields = _expect(conn, RESPONDER_SYN_ACK)
        conn.send(pack_originator_ack())
        return peer, fields["filter"], True
    _, fields = _expect(conn, ORIGINATOR_SYN)
    conn.send(pack_responder_syn_ack(topics))
    _expect(conn, ORIGINATOR_ACK)
    return peer, fields["filter"], False


def connector_handshake(conn, own, topics, vmax=VERSION):
    """Plays the TCP connector (spec 2.3 'C')."""
    conn.send(pack_hello(own, VERSION, vmax))
    while True:
        kind, fields = _expect(conn, PROBE, HELLO, VERSION_SELECT)
        if kind == HELLO:
            if own.bytes < fields["sender"].bytes:
                return _finish(conn, own, fields["sender"], topics, True)
            conn.send(pack_hello(own))
            _, fields = _expect_after_probes(conn, VERSION_SELECT)
            return _finish(conn, own, fields["sender"], topics, False)
        if kind == VERSION_SELECT:
            return _finish(conn, own, fields["sender"], topics, False)


def _expect_after_probes(conn, kind):
    while True:
        got, fields = _expect(conn, PROBE, kind)
        if got == kind:
            return got, fields


def acceptor_handshake(conn, own, topics):
    """Plays the TCP acceptor (spec 2.3 'A')."""
    conn.send(pack_probe())
    _, fields = _expect_after_probes(conn, HELLO)
    peer = fields["sender"]
    if own.bytes < peer.bytes:
        return _finish(conn, own, peer, topics, True)
    conn.send(pack_hello(own))
    _, fields = _expect_after_probes(conn, VERSION_SELECT)
    return _finish(conn, own, peer, topics, False)


MALFORMED = {
    "bad-magic": lambda own: pack_hello(own, magic=0x5A45454C),
    "unknown-tag": lambda own: bytes([13]),
    "truncated": lambda own: pack_hello(own)[:10],
    "versions": lambda own: pack_hello(own, 200, 201),
}


def send_malformed(conn, own, kind):
    """Sends one malformed frame; returns the drop_conn fields answering it, or None
    if the peer closed or said nothing before the connection's timeout."""
    if kind == "oversize":
        conn.send_raw(struct.pack("!I", 0x7FFFFFFF))
    else:
        conn.send(MALFORMED[kind](own))
    while True:
        try:
            body = conn.recv()
        except socket.timeout:
            return None
        if body is None:
            return None
        kind, fields = parse_handshake(body)
        if kind == DROP_CONN:
            return fields


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    for mode in ("connect", "accept", "malformed"):
        p = sub.add_parser(mode)
        if mode != "accept":
            p.add_argument("host")
        p.add_argument("port", type=int)
        if mode == "malformed":
            p.add_argument("kind", choices=sorted([*MALFORMED, "oversize"]))
        p.add_argument("--id", type=uuid.UUID, default=uuid.uuid4())
        p.add_argument("--topic", action="append", default=[])
    args = parser.parse_args()
    if args.mode == "accept":
        with socket.create_server(("127.0.0.1", args.port)) as server:
            sock, _ = server.accept()
        conn = Conn(sock)
        peer, peer_filter, originator = acceptor_handshake(conn, args.id, args.topic)
    else:
        conn = Conn.connect(args.host, args.port)
        if args.mode == "malformed":
            print("drop_conn:", send_malformed(conn, args.id, args.kind))
            return
        peer, peer_filter, originator = connector_handshake(conn, args.id, args.topic, 99)
    print(f"peered with {peer} (filter {peer_filter}, originator: {originator})")
    conn.send(pack_envelope(args.id, peer, PING, CONTROL_TOPIC, b"foo"))
    while True:
        env = parse_envelope(conn.recv())
        if env["type"] == PONG:
            print("pong:", env)
            return


if __name__ == "__main__":
    sys.exit(main())
