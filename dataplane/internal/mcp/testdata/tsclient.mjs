// The MCP transport's TypeScript SDK client test: run by package tsclient
// (shared/localenv/tsclient/runner.mjs), which connects the client through the
// round-robin balancer and pings and ends the session afterwards.
//
// Options (besides runner.mjs's endpoints, clientName, accept, version): none.
export default async function ({ listTools }, opts, client, out) {
  await client.ping();

  const tools = await listTools(client);
  out.tools = tools.names;
  out.pages = tools.pages;

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
}
