// Runs one test's client script with the official TypeScript SDK client and prints
// what it observed as one JSON object on stdout (the Go test asserts on it).
//
// Usage: node runner.mjs <script.mjs> '<json options>'
// The script lives with its test and exports
//   default async function (harness, opts, client, out)
// which drives the connected client and fills out. The SDK is imported here, next
// to node_modules, so the scripts need no install of their own.
//
// Common options:
//   endpoints:  MCP URLs; requests go to each in turn (a round-robin load balancer),
//               so a session started on one replica must continue on the others.
//   clientName: the client name sent in initialize.
//   token:      if set, the bearer token sent on every request.
//   accept:     if set, overrides the Accept header of POST requests (e.g. SSE only).
//   version:    if set, the protocol version asked for in initialize.
// TLS certificates are trusted through NODE_EXTRA_CA_CERTS.
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const script = await import(pathToFileURL(process.argv[2]).href);
const opts = JSON.parse(process.argv[3]);
const endpoints = opts.endpoints.map((e) => new URL(e));
let next = 0;
const requests = [];

// The balancer: rewrite the target of every request, round-robin.
async function balancedFetch(input, init) {
  const target = endpoints[next++ % endpoints.length];
  const url = new URL(input instanceof Request ? input.url : String(input));
  url.protocol = target.protocol;
  url.host = target.host;
  const headers = new Headers(init?.headers);
  if (opts.token) {
    headers.set('authorization', `Bearer ${opts.token}`);
  }
  if (opts.accept && init?.method === 'POST') {
    headers.set('accept', opts.accept);
  }
  let body = init?.body;
  if (opts.version && typeof body === 'string') {
    // The SDK always asks for its latest version; play an older client by rewriting
    // the version requested in initialize.
    const msg = JSON.parse(body);
    if (msg.method === 'initialize') {
      msg.params.protocolVersion = opts.version;
      body = JSON.stringify(msg);
    }
  }
  const res = await fetch(url, { ...init, headers, body });
  requests.push({
    method: init?.method ?? 'GET',
    host: url.host,
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    session: headers.has('mcp-session-id'),
  });
  return res;
}

// listTools follows the cursor through every page (at most 50).
async function listTools(client) {
  const names = [];
  let cursor;
  let pages = 0;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    names.push(...page.tools.map((t) => t.name));
    cursor = page.nextCursor;
    pages++;
  } while (cursor && pages < 50);
  return { names, pages };
}

const out = { ok: false };
const transport = new StreamableHTTPClientTransport(endpoints[0], { fetch: balancedFetch });
const client = new Client({ name: opts.clientName ?? 'portcullis-test', version: '1.0.0' });
try {
  await client.connect(transport);
  out.sessionId = transport.sessionId ? 'present' : 'absent';
  out.protocolVersion = transport.protocolVersion;
  out.serverName = client.getServerVersion()?.name;

  await script.default({ listTools }, opts, client, out);

  await client.ping();
  await transport.terminateSession();
  out.ok = true;
} catch (err) {
  out.error = String(err?.stack ?? err);
} finally {
  await client.close().catch(() => {});
  out.requests = requests;
  process.stdout.write(JSON.stringify(out) + '\n');
}
