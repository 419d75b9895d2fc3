// Drives the e2e gateways with the official TypeScript SDK client and prints what it
// observed as one JSON object on stdout (the Go test asserts on it).
//
// Usage: node client.mjs '<json options>'
//   endpoints: MCP URLs of the gateway replicas; requests go to each in turn (a
//              round-robin load balancer), so the session must continue across them.
//   token:     the bearer token sent on every request.
//   calls:     [{name, arguments}] tools to call, in order, after listing the tools.
// The gateways' TLS certificates are trusted through NODE_EXTRA_CA_CERTS.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const opts = JSON.parse(process.argv[2]);
const endpoints = opts.endpoints.map((e) => new URL(e));
let next = 0;
const requests = [];

async function balancedFetch(input, init) {
  const target = endpoints[next++ % endpoints.length];
  const url = new URL(input instanceof Request ? input.url : String(input));
  url.protocol = target.protocol;
  url.host = target.host;
  const headers = new Headers(init?.headers);
  headers.set('authorization', `Bearer ${opts.token}`);
  const res = await fetch(url, { ...init, headers });
  requests.push({
    method: init?.method ?? 'GET',
    host: url.host,
    status: res.status,
    session: headers.has('mcp-session-id'),
  });
  return res;
}

const out = { ok: false };
const transport = new StreamableHTTPClientTransport(endpoints[0], { fetch: balancedFetch });
const client = new Client({ name: 'e2e-ts-sdk', version: '1.0.0' });
try {
  await client.connect(transport);
  out.sessionId = transport.sessionId ? 'present' : 'absent';
  out.protocolVersion = transport.protocolVersion;
  out.serverName = client.getServerVersion()?.name;

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

  out.calls = [];
  for (const call of opts.calls ?? []) {
    try {
      const res = await client.callTool({ name: call.name, arguments: call.arguments ?? {} });
      out.calls.push({
        name: call.name,
        isError: res.isError ?? false,
        structured: res.structuredContent ?? null,
        text: res.content?.[0]?.text ?? '',
      });
    } catch (err) {
      out.calls.push({ name: call.name, code: err.code ?? null, message: String(err.message ?? err) });
    }
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
