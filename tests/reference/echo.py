"""A reference Broker endpoint for interop tests, run with Debian's /usr/bin/python3
under scripts/reference-broker (its Python bindings, not ours).

    echo.py listen plain|tls|certs          listens on a free loopback port, prints "PORT <n>"
    echo.py peer <port> plain|tls|certs     peers with 127.0.0.1:<port>, prints "PEERED"

"certs" is mutual TLS with the files in $ECHO_CERT, $ECHO_KEY, $ECHO_CA and the key's
passphrase in $ECHO_PASSPHRASE.

Subscribes to /rs/ping and echoes every message received there back on /rs/pong (the
rest of the topic kept): Broker decodes the value and encodes it again. Prints a line
per event for the test to read: "EVENT <name> <args> <metadata>" for each Zeek event
received, "STATUS <code>" for each status, and first "NODE <id>", its endpoint id. Reads commands from stdin, one a line:
"event" publishes a Zeek event with metadata on /rs/from-ref, "unpeer <port>" unpeers,
EOF ends (shutting down).
"""

import datetime
import os
import select
import sys

import broker
import broker.zeek

mode = sys.argv[1]
security = sys.argv[-1]

options = broker.BrokerOptions()
options.disable_ssl = security == "plain"
options.ignore_broker_conf = True
config = broker.Configuration(options)
if security == "certs":
    config.openssl_certificate = os.environ["ECHO_CERT"]
    config.openssl_key = os.environ["ECHO_KEY"]
    config.openssl_cafile = os.environ["ECHO_CA"]
    config.openssl_passphrase = os.environ.get("ECHO_PASSPHRASE", "")
endpoint = broker.Endpoint(config)
subscriber = endpoint.make_subscriber("/rs/ping")
statuses = endpoint.make_status_subscriber(True)


def say(*words):
    print(*words, flush=True)


say("NODE", endpoint.node_id())
if mode == "listen":
    say("PORT", endpoint.listen("127.0.0.1", 0))
else:
    if not endpoint.peer("127.0.0.1", int(sys.argv[2]), 0):
        say("FAILED")
    else:
        say("PEERED")

stamp = datetime.datetime.fromtimestamp(1700000000.5, broker.utc)
while True:
    ready, _, _ = select.select([sys.stdin, subscriber.fd(), statuses.fd()], [], [], 10)
    if not ready:
        continue
    if sys.stdin in ready:
        line = sys.stdin.readline()
        if not line:
            break
        command = line.split()
        if command[0] == "event":
            event = broker.zeek.Event(
                "pong",
                "from reference",
                broker.Count(42),
                metadata={broker.zeek.MetadataType.NetworkTimestamp: stamp},
            )
            endpoint.publish("/rs/from-ref", event)
        elif command[0] == "unpeer":
            endpoint.unpeer("127.0.0.1", int(command[1]))
    for status in statuses.poll():
        code = getattr(status, "code", lambda: None)()
        say("STATUS", code)
    # Raw values (no conversion to Python and back): what Broker decoded is what it sends.
    for item in subscriber._subscriber.poll():
        topic, data = item[0].string(), item[1]
        if topic.startswith("/rs/ping/event"):
            event = broker._broker.zeek.Event(data)
            metadata = [broker.Data.to_py(m) for m in event.metadata() or []]
            say("EVENT", event.name(), [broker.Data.to_py(a) for a in event.args()], metadata)
        pong = broker._broker.Topic("/rs/pong" + topic[len("/rs/ping"):])
        broker._broker.Endpoint.publish(endpoint, pong, data)
endpoint.shutdown()
