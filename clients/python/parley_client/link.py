"""AgentLink.Link as a Python object: a queue of what the client sends, and
a reader thread that puts what the node streams into a queue that recv()
takes from with a timeout."""

import queue
import threading
from typing import Iterable, Optional

import grpc

_END = object()


class LinkClosed(Exception):
    """The node ended the link; `code` and `details` tell why (code OK when
    the node closed it normally, e.g. after the client half-closed).
    `redirect` is the address of the node that serves the agent when the
    node called does not (trailer parley-node-address), else None."""

    def __init__(self, code: grpc.StatusCode, details: str, redirect: Optional[str] = None):
        super().__init__("link closed: %s %s" % (code.name, details))
        self.code = code
        self.details = details
        self.redirect = redirect


def _trailer(call, key: str) -> Optional[str]:
    try:
        for k, v in call.trailing_metadata() or ():
            if k == key:
                return v
    except Exception:  # no trailers on a call that never reached a node
        pass
    return None


class Link:
    """An open link of one external agent.

    The first message (open) is sent at construction; ready() waits for
    the node's LinkServer.ready. Methods that send only queue the message:
    they are thread-safe and never block. recv() is meant for one thread."""

    def __init__(self, node, agent: str, credit: int = 16):
        self.pb = node.pb
        self.agent = agent
        self._out: "queue.Queue" = queue.Queue()
        self._in: "queue.Queue" = queue.Queue()
        self._front = []  # items recv() returns before the queue's
        self._closed: Optional[LinkClosed] = None
        self.target = node.target  # the node that serves this link
        self._owned_node = None  # a Node opened for a redirect, closed with the link
        self._out.put(self.pb.LinkClient(open=self.pb.LinkOpen(agent=agent, credit=credit)))
        # The node's channel adds the bearer token; the agent is named in LinkOpen.
        self._call = node.link.Link(self._requests())
        self._reader = threading.Thread(target=self._read, name="link-" + agent, daemon=True)
        self._reader.start()

    # -- what the node streams ----------------------------------------------

    def _requests(self):
        while True:
            item = self._out.get()
            if item is _END:
                return
            yield item

    def _read(self):
        try:
            for item in self._call:
                self._in.put(item)
            self._in.put(LinkClosed(grpc.StatusCode.OK, ""))
        except grpc.RpcError as e:
            self._in.put(LinkClosed(e.code(), e.details() or "",
                                    _trailer(e, "parley-node-address")))

    def recv(self, timeout: Optional[float] = None):
        """The next LinkServer message, or None after `timeout` seconds.
        Raises LinkClosed once the stream has ended (and again after)."""
        if self._closed:
            raise self._closed
        if self._front:
            return self._front.pop(0)
        try:
            item = self._in.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(item, LinkClosed):
            self._closed = item
            raise item
        return item

    def ready(self, timeout: float = 10.0):
        """Waits for LinkServer.ready; returns the LinkReady. TimeoutError
        after `timeout`, LinkClosed if the node refused the link."""
        item = self.recv(timeout)
        if item is None:
            raise TimeoutError("no LinkServer.ready within %.1fs" % timeout)
        if item.WhichOneof("msg") != "ready":
            raise RuntimeError("expected ready first, got %s" % item.WhichOneof("msg"))
        return item.ready

    # -- what the client sends ----------------------------------------------

    def _unrecv(self, item) -> None:
        """Puts back an item recv() returned: the next recv() returns it."""
        self._front.insert(0, item)

    def _put(self, **kw) -> None:
        self._out.put(self.pb.LinkClient(**kw))

    def credit(self, n: int) -> None:
        self._put(credit=n)

    def ack(self, deliveries: Iterable[int]) -> None:
        self._put(ack=self.pb.Ack(deliveries=list(deliveries)))

    def send(self, message) -> None:
        self._put(send=message)

    def send_batch(self, messages) -> None:
        self._put(send_batch=self.pb.SendBatch(messages=list(messages)))

    def request_turn(self, room: str) -> None:
        self._put(request_turn=self.pb.TurnRequest(room=room, agent=self.agent))

    def yield_turn(self, room: str) -> None:
        self._put(yield_turn=self.pb.TurnRequest(room=room, agent=self.agent))

    def close(self, timeout: float = 5.0) -> None:
        """Half-closes (the node then ends the link; unacknowledged deliveries
        wait for the next one) and waits for the end; cancels after `timeout`."""
        self._out.put(_END)
        self._reader.join(timeout)
        if self._reader.is_alive():
            self._call.cancel()
            self._reader.join(timeout)
        self._release_node()

    def cancel(self) -> None:
        """Drops the link at once, as a crashed process would."""
        self._call.cancel()
        self._out.put(_END)
        self._reader.join(5.0)
        self._release_node()

    def _release_node(self) -> None:
        if self._owned_node is not None:
            self._owned_node.close()
            self._owned_node = None
