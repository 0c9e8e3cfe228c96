"""ZeroMQ transport: sockets, CurveZMQ, the Lazy Pirate client, the operator service loop
and the agent process. The only sub-package that imports zmq."""
