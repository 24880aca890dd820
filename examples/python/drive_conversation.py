#!/usr/bin/python3
"""A scripted conversation partner using only the unary API: talks with an
external agent (echo_agent.py) in a moderated room and prints the dialogue.

    /usr/bin/python3 examples/python/drive_conversation.py --target 127.0.0.1:7700 \
        --as driver-py --with echo-py [--token-file driver-py.token]

It introduces itself (`--as`, Behavior KIND_EXTERNAL without a link: what it
receives waits in its durable inbox), creates an invite-only room with the
FIFO speaker policy, invites the other agent and waits until it joined
(echo_agent.py joins rooms it is invited to), then for each line: asks for
the turn (Turns.RequestTurn), sends it, yields (Turns.YieldTurn), and waits
for the answer in its inbox (Messages.Inbox), which it then marks read
(Messages.MarkRead). Last, it prints the room's history (Rooms.History,
oldest first; needs a node with a store, as `make run` starts).

Credentials: a node started with a token key (parleyd --token-key-file)
wants a bearer token on every call, one that names the --as agent (it acts
only as itself: introduces itself, creates the room, invites, sends):

    parley token issue --agent driver-py --ttl 1h --key-file KEYFILE > driver-py.token

passed with --token-file, or in $PARLEY_TOKEN (the token itself), else
$PARLEY_TOKEN_FILE (a path). A development node (no token key) needs none.

Exits 0 when every line was answered before --timeout seconds; 1 on a
timeout or another error; 2 when the token file cannot be read; 5 when the
node refuses the credentials (UNAUTHENTICATED, PERMISSION_DENIED: a hint on
stderr says which token to issue), as `parley` does.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python"))

import grpc  # noqa: E402

import parley_client  # noqa: E402

LINES = ["Hello there.", "What do rooms with a moderator do?", "Thanks, bye."]


def wait_for(what, check, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise TimeoutError("timed out waiting for " + what)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=(
        "Credentials: a node started with a token key wants a bearer token naming the --as "
        "agent: `parley token issue --agent ID --key-file KEYFILE > TOKENFILE`, then "
        "--token-file TOKENFILE (or set $PARLEY_TOKEN to the token, or $PARLEY_TOKEN_FILE to "
        "the file). A development node needs none. Exit codes: 2 unreadable token file, 5 the "
        "node refused the credentials (UNAUTHENTICATED or PERMISSION_DENIED; a hint says "
        "which token to issue), 1 other failures."))
    p.add_argument("--target", default="127.0.0.1:7700")
    p.add_argument("--as", dest="me", default="driver-py", help="the agent id to act as")
    p.add_argument("--with", dest="peer", default="echo-py", help="the agent to talk with")
    p.add_argument("--room", default="", help="room id (default: talk-<time>)")
    p.add_argument("--stubs", help="directory of the generated parley/v1 modules")
    p.add_argument("--token-file", metavar="FILE",
                   help="file whose first line is the bearer token (parley token "
                        "issue --agent <--as>); default: the token in "
                        "$PARLEY_TOKEN, else the file named by $PARLEY_TOKEN_FILE; "
                        "none for a development node")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for each step")
    p.add_argument("line", nargs="*", help="what to say (default: three lines)")
    args = p.parse_args(argv)

    try:
        node = parley_client.connect(args.target, stubs=args.stubs, token_file=args.token_file,
                                     agent=args.me)
    except parley_client.TokenError as e:
        print("drive_conversation: %s" % e, file=sys.stderr)
        return 2
    try:
        return converse(node, args)
    except TimeoutError as e:
        print("drive_conversation: %s" % e, file=sys.stderr)
        return 1
    except grpc.FutureTimeoutError:
        print("drive_conversation: cannot reach %s" % args.target, file=sys.stderr)
        return 1
    except grpc.RpcError as e:
        print("drive_conversation: %s %s" % (e.code().name, e.details()), file=sys.stderr)
        hint = parley_client.auth_hint(e.code(), e.details(), agent=args.me,
                                       has_token=node.token is not None)
        if hint:
            print("hint: " + hint, file=sys.stderr)
            return 5
        return 1
    finally:
        node.close()


def converse(node, args) -> int:
    pb = node.pb
    room = args.room or "talk-%d" % int(time.time() * 1000)
    node.wait_ready(timeout=args.timeout)
    node.ensure_external_agent(args.me, display_name="Driver (Python)")

    node.rooms.CreateGroup(pb.CreateGroupRequest(
        creator=args.me, id=room, topic="a scripted conversation", invite_only=True,
        rules=pb.SpeakerRules(policy=pb.SPEAKER_POLICY_FIFO)))
    node.rooms.Invite(pb.InviteRequest(room=room, by=args.me, agent=args.peer,
                                       role=pb.ROOM_ROLE_MEMBER))
    print("room %s created; waiting for %s to join" % (room, args.peer), flush=True)
    wait_for(args.peer + " to join", lambda: any(
        m.agent == args.peer for m in node.rooms.GetRoom(
            pb.GetRoomRequest(room=room)).members), args.timeout)

    answered = 0
    shown = set()  # deliveries printed (the inbox lists what is not yet marked read)
    for i, line in enumerate(args.line or LINES):
        # The turn: granted at once when nobody holds it, else after the
        # others in FIFO order.
        wait_for("the turn", lambda: node.turns.RequestTurn(
            pb.TurnRequest(room=room, agent=args.me)).current.speaker == args.me,
            args.timeout)
        sent = node.messages.Send(pb.SendRequest(message=pb.Message(
            id="%s.%d" % (room, i), to_room=room, content=line, **{"from": args.me})))
        node.turns.YieldTurn(pb.TurnRequest(room=room, agent=args.me))
        print("%s: %s   [%s]" % (args.me, line, pb.MessageStatus.Name(sent.status)), flush=True)

        def answer():
            inbox = [m for m in node.messages.Inbox(pb.InboxRequest(
                agent=args.me, limit=1000)).messages if m.to_room == room]
            return [m for m in inbox if m.reply_to == sent.id] and inbox
        inbox = wait_for("the answer to " + sent.id, answer, args.timeout)
        for m in inbox:
            if m.delivery not in shown:
                shown.add(m.delivery)
                print("%s: %s" % (getattr(m, "from"), m.content), flush=True)
        node.messages.MarkRead(pb.MarkReadRequest(agent=args.me,
                                                  deliveries=[m.delivery for m in inbox]))
        answered += 1

    try:
        history = node.rooms.History(pb.HistoryRequest(room=room, oldest_first=True)).messages
        print("-- history of %s (%d messages)" % (room, len(history)))
        for m in history:
            print("  %-12s %s" % (getattr(m, "from"), m.content))
    except grpc.RpcError as e:
        print("-- no history: %s %s" % (e.code().name, e.details()))
    return 0 if answered == len(args.line or LINES) else 1


if __name__ == "__main__":
    sys.exit(main())
