// The e2e TypeScript SDK client test: run by package tsclient
// (shared/localenv/tsclient/runner.mjs), which connects the client through the
// round-robin balancer (with the bearer token) and pings and ends the session
// afterwards.
//
// Options (besides runner.mjs's endpoints, clientName, token):
//   calls: [{name, arguments}] tools to call, in order, after listing the tools.
export default async function ({ listTools }, opts, client, out) {
  out.tools = (await listTools(client)).names;

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
}
