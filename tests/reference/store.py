"""A reference Broker data store for interop tests, run with Debian's /usr/bin/python3
under scripts/reference-broker (its Python bindings, not ours), in plaintext.

    store.py master <name>          listens on a free loopback port, attaches the master
                                    of store <name>, prints "PORT <n>"
    store.py clone <port> <name>    peers with 127.0.0.1:<port>, attaches a clone of store
                                    <name>, prints "ATTACHED"

Then reads commands from stdin, one a line (keys are strings, values integers):
    put <key> <int> [<expiry seconds>]
    put_unique <key> <int>          prints "PUT_UNIQUE <key> True|False"
    erase <key> | increment <key> <int> | decrement <key> <int> | clear
    await <key> <int>|none          prints "SAW <key> <value>" once get(<key>) gives that
                                    value, or "TIMEOUT <key> <last value>" after 10 s
    peer <port> | unpeer <port>     prints "PEERED" or "FAILED" | nothing
EOF ends (shutting down). Before each command, prints "STATUS <code>" for each status
since the last one.
"""

import sys
import time

import broker

options = broker.BrokerOptions()
options.disable_ssl = True
options.ignore_broker_conf = True
endpoint = broker.Endpoint(broker.Configuration(options))
statuses = endpoint.make_status_subscriber(True)


def say(*words):
    print(*words, flush=True)


def value(word):
    return None if word == "none" else int(word)


def get(store, key):
    try:
        return store.get(key)
    except Exception:  # a clone not attached yet answers with an error
        return "error"


if sys.argv[1] == "master":
    name = sys.argv[2]
    say("PORT", endpoint.listen("127.0.0.1", 0))
    store = endpoint.attach_master(name, broker.Backend.Memory)
else:
    port, name = int(sys.argv[2]), sys.argv[3]
    if not endpoint.peer("127.0.0.1", port, 0):
        say("FAILED")
        sys.exit(1)
    store = endpoint.attach_clone(name)
    say("ATTACHED")

# Blocking reads: select() on stdin would miss lines Python's buffer holds already.
for line in iter(sys.stdin.readline, ""):
    for status in statuses.poll():
        say("STATUS", getattr(status, "code", lambda: None)())
    command, *args = line.split()
    if command == "put":
        expiry = float(args[2]) if len(args) > 2 else None
        store.put(args[0], value(args[1]), expiry)
    elif command == "put_unique":
        say("PUT_UNIQUE", args[0], store.put_unique(args[0], value(args[1])))
    elif command == "erase":
        store.erase(args[0])
    elif command == "increment":
        store.increment(args[0], value(args[1]))
    elif command == "decrement":
        store.decrement(args[0], value(args[1]))
    elif command == "clear":
        store.clear()
    elif command == "await":
        wanted, seen = value(args[1]), None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            seen = get(store, args[0])
            if seen == wanted:
                break
            time.sleep(0.02)
        say("SAW" if seen == wanted else "TIMEOUT", args[0], seen)
    elif command == "peer":
        say("PEERED" if endpoint.peer("127.0.0.1", int(args[0]), 0) else "FAILED")
    elif command == "unpeer":
        endpoint.unpeer("127.0.0.1", int(args[0]))
