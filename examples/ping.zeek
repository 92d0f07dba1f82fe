# The Zeek side of Broker's "Exchanging Zeek events" example: answers each ping(n)
# published on /topic/test with pong(n). Run: zeek examples/ping.zeek
# then: python examples/ping.py 127.0.0.1 9999
redef exit_only_after_terminate = T;

global pong: event(n: int);

event zeek_init()
    {
    Broker::subscribe("/topic/test");
    Broker::listen("127.0.0.1", 9999/tcp);
    }

event Broker::peer_lost(endpoint: Broker::EndpointInfo, msg: string)
    {
    terminate();
    }

event ping(n: int)
    {
    Broker::publish("/topic/test", pong, n);
    }
