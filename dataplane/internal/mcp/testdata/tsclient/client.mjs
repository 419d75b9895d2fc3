// Drives the gateway's MCP endpoint with the official TypeScript SDK client and prints
// what it observed as one JSON object on stdout (the Go test asserts on it).
//
// Usage: node client.mjs '<json options>'
//   endpoints: MCP URLs; requests go to each in turn (a round-robin load balancer), so
//              a session started on one replica must continue on the others.
//   accept:    if set, overrides the Accept header the SDK sends (e.g. SSE only).
//   version:   if set, the protocol version asked for in initialize.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const opts = JSON.parse(process.argv[2]);
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
  requests.push({ method: init?.method ?? 'GET', host: url.host, status: res.status, contentType: res.headers.get('content-type') ?? '' });
  return res;
}

const out = { ok: false };
const transport = new StreamableHTTPClientTransport(endpoints[0], { fetch: balancedFetch });
const client = new Client({ name: 'ts-sdk-test', version: '1.0.0' });
try {
  await client.connect(transport);
  out.sessionId = transport.sessionId ? 'present' : 'absent';
  out.protocolVersion = transport.protocolVersion;
  out.serverName = client.getServerVersion()?.name;

  await client.ping();

  const names = [];
  let cursor;
  let pages = 0;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    names.push(...page.tools.map((t) => t.name));
    cursor = page.nextCursor;
    pages++;
  } while (cursor && pages < 50);
  out.tools = names;
  out.pages = pages;

  const echo = await client.callTool({ name: 'echo', arguments: { msg: 'héllo' } });
  out.echo = { structured: echo.structuredContent, text: echo.content?.[0]?.text, isError: echo.isError ?? false };

  const fails = await client.callTool({ name: 'fails', arguments: {} });
  out.fails = { isError: fails.isError ?? false, text: fails.content?.[0]?.text };

  const who = await client.callTool({ name: 'whoami', arguments: {} });
  out.whoami = who.structuredContent;

  try {
    await client.callTool({ name: 'hidden', arguments: {} });
    out.hidden = { error: null };
  } catch (err) {
    out.hidden = { code: err.code, message: err.message };
  }

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
