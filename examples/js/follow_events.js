#!/usr/bin/env node
// Follows a Parley event stream (parley.v1 Events.Subscribe; in a network,
// every node's events) and prints one line per event. When the stream
// breaks (the node restarts or drains, the network drops, the node cut off
// a slow subscriber) it subscribes again with the last event's resume
// token, so no event is missed or printed twice, as long as the nodes still
// retain them.
//
//   node examples/js/follow_events.js --target 127.0.0.1:7700 --from 1 [--token-file FILE]
//
// A node started with a token key (parleyd --token-key-file) wants a bearer
// token on every call: this sends `authorization: Bearer <token>` with each
// Subscribe, the token read from --token-file (its first line), else
// $PARLEY_TOKEN (the token itself), else the file named by $PARLEY_TOKEN_FILE.
// An observer's token follows every event:
//   parley token issue --role observer --key-file KEYFILE > observer.token
// (an agent's token follows only its own events and its rooms'). A
// development node (no token key) needs none.
//
// The .proto is loaded at run time (@grpc/proto-loader), so nothing is
// generated. Exit codes: 0 after --max-events events or on SIGINT/SIGTERM;
// 1 when resuming is impossible (OUT_OF_RANGE: the events were dropped) or
// the node stayed unreachable for --give-up-after seconds; 2 for a bad call
// or an unreadable token file; 5 when the node refuses the credentials
// (UNAUTHENTICATED, PERMISSION_DENIED; a hint on stderr), as `parley` does.
'use strict';

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const usage = `usage: follow_events.js [options]
  --target HOST:PORT     the node's gRPC address (default 127.0.0.1:7700)
  --from N               first offset: 0 = live events only (default), 1 = all retained
                         (N > 1: an offset of the node called, which is then followed alone)
  --topic NAME           agent_lifecycle | agent_status | room | turn | message (repeatable; default all)
  --agent ID, --room ID  only events about this agent / room
  --json                 print JSON lines instead of text
  --max-events N         exit 0 after N events (default: follow forever)
  --give-up-after S      exit 1 when the node stays unreachable this long (default 60)
  --token-file FILE      file whose first line is the bearer token (default: the token in
                         $PARLEY_TOKEN, else the file named by $PARLEY_TOKEN_FILE; none for a
                         development node). Make one: parley token issue --role observer
  --proto FILE           api.proto (default: the repository's proto/parley/v1/api.proto)
Exit codes: 0 done, 1 cannot resume or node unreachable, 2 bad call or unreadable token file,
5 the node refused the credentials (UNAUTHENTICATED, PERMISSION_DENIED).`;

function parseArgs(argv) {
  const opt = {
    target: '127.0.0.1:7700', from: 0n, topics: [], agent: '', room: '', json: false,
    maxEvents: 0, giveUpAfterS: 60, tokenFile: '',
    proto: path.resolve(__dirname, '..', '..', 'proto', 'parley', 'v1', 'api.proto'),
  };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--target': opt.target = value(); break;
      case '--from': opt.from = BigInt(value()); break;
      case '--topic': opt.topics.push(value()); break;
      case '--agent': opt.agent = value(); break;
      case '--room': opt.room = value(); break;
      case '--json': opt.json = true; break;
      case '--max-events': opt.maxEvents = Number(value()); break;
      case '--give-up-after': opt.giveUpAfterS = Number(value()); break;
      case '--token-file': opt.tokenFile = value(); break;
      case '--agent-id': case '--admin-token':
        throw new Error(`${a} is gone: the node authenticates callers by a bearer token ` +
                        '(--token-file, $PARLEY_TOKEN, $PARLEY_TOKEN_FILE)');
      case '--proto': opt.proto = path.resolve(value()); break;
      case '-h': case '--help': console.log(usage); process.exit(0); break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  return opt;
}

// A token file's first line, trimmed; throws with a readable message.
function readTokenFile(file, namedBy) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const why = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'a directory' };
    throw new Error(`cannot read the token file '${file}' (${namedBy}): ` +
                    `${why[e.code] || e.message}`);
  }
  const token = text.split(/\r?\n/, 1)[0].trim();
  if (!token) throw new Error(`the token file '${file}' (${namedBy}) holds no token`);
  return token;
}

// The bearer token: --token-file, else $PARLEY_TOKEN, else $PARLEY_TOKEN_FILE;
// '' when there is none.
function resolveToken(opt) {
  if (opt.tokenFile) return readTokenFile(opt.tokenFile, '--token-file');
  const env = (process.env.PARLEY_TOKEN || '').trim();
  if (env) return env;
  if (process.env.PARLEY_TOKEN_FILE) {
    return readTokenFile(process.env.PARLEY_TOKEN_FILE, '$PARLEY_TOKEN_FILE');
  }
  return '';
}

// One line for a person after UNAUTHENTICATED or PERMISSION_DENIED.
function authHint(code, details, hasToken) {
  const issue = 'parley token issue --role observer --key-file KEYFILE > TOKENFILE';
  if (code === grpc.status.UNAUTHENTICATED) {
    if (/accepts no bearer tokens/.test(details)) {
      return 'this node takes no tokens (a development node): run without --token-file, ' +
             'and unset PARLEY_TOKEN and PARLEY_TOKEN_FILE';
    }
    return hasToken
      ? `the node refused the token: issue a new one (\`${issue}\`) and pass --token-file TOKENFILE`
      : `the node wants a token: \`${issue}\`, then pass --token-file TOKENFILE ` +
        '(or set PARLEY_TOKEN_FILE or PARLEY_TOKEN)';
  }
  return 'the token\'s principal may not follow these events: an observer\'s token ' +
         `(\`${issue}\`) follows all, an agent's only its own and its rooms'`;
}

function loadApi(protoFile) {
  const def = protoLoader.loadSync(protoFile, {
    keepCase: true,   // field names as in the .proto (from_offset)
    longs: String,    // uint64 offsets as decimal strings, exact
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(def).parley.v1;
}

// Codes after which subscribing again can work: the node is restarting or
// draining (UNAVAILABLE), cut a slow subscriber off (RESOURCE_EXHAUSTED),
// or the connection broke mid-stream.
const RETRYABLE = new Set([
  grpc.status.UNAVAILABLE, grpc.status.RESOURCE_EXHAUSTED, grpc.status.CANCELLED,
  grpc.status.DEADLINE_EXCEEDED, grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.OK,
]);

function main() {
  let opt;
  try {
    opt = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`follow_events: ${e.message}\n${usage}`);
    process.exit(2);
  }
  let token;
  try {
    token = resolveToken(opt);
  } catch (e) {
    console.error(`follow_events: ${e.message}`);
    process.exit(2);
  }
  const api = loadApi(opt.proto);
  const client = new api.Events(opt.target, grpc.credentials.createInsecure(), {
    // Reconnect quickly after a node restart (gRPC's default waits up to 2 minutes).
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 2000,
  });
  // The token alone tells the node who calls; a development node takes none.
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);

  let resumeToken = '';      // the last event's: where to resume
  let seen = 0;              // events printed
  let call = null;
  let stopping = false;
  let backoffMs = 200;
  let failingSince = 0;      // when the node became unreachable (ms), 0 = reachable

  const log = (line) => process.stderr.write(`follow_events: ${line}\n`);
  const finish = (code) => {
    stopping = true;
    if (call) call.cancel();
    client.close();
    process.exitCode = code;
  };

  const print = (e) => {
    if (opt.json) {
      console.log(JSON.stringify(e));
    } else {
      const about = [e.agent && `agent=${e.agent}`, e.room && `room=${e.room}`]
        .filter(Boolean).join(' ');
      console.log(`#${e.offset}@${e.node} ${new Date(Number(e.at)).toISOString()} ${e.kind}` +
                  `${about ? ' ' + about : ''}${e.detail ? ' ' + e.detail : ''}`);
    }
  };

  const subscribe = () => {
    if (stopping) return;
    const request = { topics: opt.topics, agent: opt.agent, room: opt.room };
    if (resumeToken) request.resume_token = resumeToken;
    else if (opt.from === 1n) request.from_oldest = true;
    else if (opt.from > 1n) Object.assign(request, { from_offset: opt.from.toString(), this_node_only: true });
    const thisCall = client.Subscribe(request, metadata);
    call = thisCall;
    let ended = false;
    const retry = (code, details) => {
      if (ended || stopping) return;
      ended = true;
      if (code === grpc.status.UNAUTHENTICATED || code === grpc.status.PERMISSION_DENIED) {
        log(`stopping: ${grpc.status[code]} ${details}`);
        process.stderr.write(`hint: ${authHint(code, details, !!token)}\n`);
        finish(5);
        return;
      }
      if (!RETRYABLE.has(code)) {
        log(`stopping: ${grpc.status[code]} ${details}`);
        finish(code === grpc.status.OUT_OF_RANGE ? 1 : 2);
        return;
      }
      const now = Date.now();
      if (!failingSince) failingSince = now;
      if (now - failingSince > opt.giveUpAfterS * 1000) {
        log(`giving up after ${opt.giveUpAfterS}s: ${grpc.status[code]} ${details}`);
        finish(1);
        return;
      }
      log(`stream ended (${grpc.status[code]}: ${details}); resubscribing after ` +
          `${resumeToken || 'the start'} in ${backoffMs} ms`);
      setTimeout(subscribe, backoffMs);
      backoffMs = Math.min(backoffMs * 2, 2000);
    };
    thisCall.on('metadata', () => { failingSince = 0; backoffMs = 200; });
    thisCall.on('data', (e) => {
      failingSince = 0;
      backoffMs = 200;
      resumeToken = e.resume_token;
      print(e);
      if (opt.maxEvents && ++seen >= opt.maxEvents) finish(0);
    });
    thisCall.on('error', (err) => retry(err.code, err.details || err.message));
    thisCall.on('end', () => retry(grpc.status.OK, 'the node ended the stream'));
  };

  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => finish(0));
  subscribe();
}

main();
