"""The bearer token a client sends, and what to tell a person when the node
refuses it.

A node started with a token key (`parleyd --token-key-file`) authenticates
every call by the metadata `authorization: Bearer <token>`, a JWT that
`parley token issue` makes; the principal it names (agent:<id>, operator,
observer, admin) decides what the call may do. A development node (no key)
takes calls without a token, and refuses one that carries a token.

Where the token comes from, first found wins:
  1. token= (the token itself),
  2. token_file= (a path; its first line),
  3. $PARLEY_TOKEN (the token itself),
  4. $PARLEY_TOKEN_FILE (a path; its first line).
Whitespace around the token is dropped. None when there is none of these;
token="" means "send no token" (the environment is not consulted).
"""

import os
from typing import Mapping, Optional

import grpc

ENV_TOKEN = "PARLEY_TOKEN"
ENV_TOKEN_FILE = "PARLEY_TOKEN_FILE"

# The codes after which retrying with the same credentials cannot help.
AUTH_CODES = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


class TokenError(Exception):
    """A token file that was named cannot be read, or holds no token."""


def read_token_file(path: str, named_by: str = "token file") -> str:
    """The first line of `path`, whitespace trimmed. TokenError when the file
    cannot be read or that line is empty."""
    try:
        with open(path, "r", encoding="utf-8") as f:
            first = f.readline()
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise TokenError("cannot read the %s '%s': %s" % (named_by, path, reason)) from None
    token = first.strip()
    if not token:
        raise TokenError("the %s '%s' holds no token (its first line is empty)" % (named_by, path))
    return token


def resolve_token(token: Optional[str] = None, token_file: Optional[str] = None,
                  environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The token to send (see the module's docstring for the order), or None."""
    env = os.environ if environ is None else environ
    if token is not None:
        return token.strip() or None
    if token_file:
        return read_token_file(token_file, "token file")
    if env.get(ENV_TOKEN, "").strip():
        return env[ENV_TOKEN].strip()
    if env.get(ENV_TOKEN_FILE):
        return read_token_file(env[ENV_TOKEN_FILE], "token file named by $" + ENV_TOKEN_FILE)
    return None


def bearer_metadata(token: Optional[str]):
    """[("authorization", "Bearer <token>")], or [] without a token."""
    return [("authorization", "Bearer " + token)] if token else []


def auth_hint(code: grpc.StatusCode, details: str = "", agent: str = "",
              role: str = "", has_token: bool = False) -> Optional[str]:
    """One line telling a person what to do after UNAUTHENTICATED or
    PERMISSION_DENIED (None for other codes); print it after the error
    itself. `agent` or `role` names the token the program wants (for the
    `parley token issue` command shown)."""
    who = ("--agent " + agent) if agent else ("--role " + (role or "admin"))
    issue = "parley token issue %s --key-file KEYFILE > TOKENFILE" % who
    if code == grpc.StatusCode.UNAUTHENTICATED:
        if "accepts no bearer tokens" in (details or ""):
            return ("this node takes no tokens (a development node): run without "
                    "--token-file, and unset %s and %s" % (ENV_TOKEN, ENV_TOKEN_FILE))
        if has_token:
            return ("the node refused the token (expired, or signed with another key): issue a "
                    "new one, `%s`, and pass --token-file TOKENFILE" % issue)
        return ("the node wants a token: `%s`, then pass --token-file TOKENFILE (or set %s "
                "or %s)" % (issue, ENV_TOKEN_FILE, ENV_TOKEN))
    if code == grpc.StatusCode.PERMISSION_DENIED:
        if agent:
            return ("acting as agent '%s' needs that agent's own token (`%s`); room rules "
                    "(invite-only rooms, guests) may refuse it too" % (agent, issue))
        return "the token's principal may not do this: use a token issued with `%s`" % issue
    return None
