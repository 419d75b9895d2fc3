package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// smokeTimeout bounds the wait for the seeded tools to reach the gateways (the relay publishes
// bundles asynchronously after each commit).
const smokeTimeout = 30 * time.Second

// smokeCheck calls each gateway as each demo user, exactly as the banner tells the user to
// (initialize, then tools/list with the printed token), and reports what each one sees. It waits
// until the first user's list is non-empty on every gateway so the banner never shows a system
// that has not applied the seed yet. A failure is reported, not fatal: the system still runs.
func smokeCheck(ctx context.Context, client *http.Client, targets []string, t demoTokens, out io.Writer) {
	fmt.Fprintln(out, "\nChecking the gateways as the demo users (initialize + tools/list):")
	ctx, cancel := context.WithTimeout(ctx, smokeTimeout)
	defer cancel()
	for _, target := range targets {
		for i, a := range t.agents {
			tools, err := listTools(ctx, client, target, a.token, i == 0)
			if err != nil {
				fmt.Fprintf(out, "  ✗ %s as %s: %v\n", target, a.who, err)
				continue
			}
			fmt.Fprintf(out, "  ✓ %s as %s: %d tools %v\n", target, a.who, len(tools), tools)
		}
	}
}

// replicaURL is mcpURL (the shared public URL) with the port of one replica's listen address:
// same host name, so the same token is accepted.
func replicaURL(mcpURL, listen string) (string, error) {
	u, err := url.Parse(mcpURL)
	if err != nil {
		return "", err
	}
	_, port, ok := strings.Cut(strings.TrimPrefix(listen, "https://"), ":")
	if !ok {
		return "", fmt.Errorf("%q has no port", listen)
	}
	u.Host = u.Hostname() + ":" + port
	return u.String(), nil
}

// listTools opens an MCP session and lists the tools. With wait, an empty list is retried until
// ctx ends (the gateway may not have the seeded bundles yet).
func listTools(ctx context.Context, client *http.Client, target, token string, wait bool) ([]string, error) {
	for {
		tools, err := listToolsOnce(ctx, client, target, token)
		if err != nil || len(tools) > 0 || !wait {
			return tools, err
		}
		select {
		case <-ctx.Done():
			return nil, errors.New("no tools listed yet (the gateway has not applied the seeded bundles)")
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func listToolsOnce(ctx context.Context, client *http.Client, target, token string) ([]string, error) {
	hdr, err := initialize(ctx, client, target, token)
	if err != nil {
		return nil, err
	}
	if _, _, err := mcpCall(ctx, client, target, hdr, map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"}); err != nil {
		return nil, fmt.Errorf("notifications/initialized: %w", err)
	}
	resp, _, err := mcpCall(ctx, client, target, hdr, map[string]any{"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
	if err != nil {
		return nil, fmt.Errorf("tools/list: %w", err)
	}
	var list struct {
		Result *struct {
			Tools []struct {
				Name string `json:"name"`
			} `json:"tools"`
		} `json:"result"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(resp, &list); err != nil {
		return nil, fmt.Errorf("tools/list: %w", err)
	}
	if list.Error != nil || list.Result == nil {
		return nil, fmt.Errorf("tools/list: %s", resp)
	}
	names := make([]string, 0, len(list.Result.Tools))
	for _, t := range list.Result.Tools {
		names = append(names, t.Name)
	}
	return names, nil
}

// initialize opens an MCP session as token and returns the headers that
// address it (bearer token, session id, protocol version).
func initialize(ctx context.Context, client *http.Client, target, token string) (http.Header, error) {
	hdr := http.Header{"Authorization": {"Bearer " + token}}
	resp, sid, err := mcpCall(ctx, client, target, hdr, map[string]any{"jsonrpc": "2.0", "id": 1, "method": "initialize",
		"params": map[string]any{"protocolVersion": protocolVersion, "capabilities": map[string]any{},
			"clientInfo": map[string]any{"name": "portcullis-dev", "version": "dev"}}})
	if err != nil {
		return nil, fmt.Errorf("initialize: %w", err)
	}
	if sid == "" {
		return nil, fmt.Errorf("initialize: no Mcp-Session-Id in the response: %s", resp)
	}
	hdr.Set("Mcp-Session-Id", sid)
	hdr.Set("MCP-Protocol-Version", protocolVersion)
	return hdr, nil
}

// mcpCall POSTs one JSON-RPC message and returns the JSON-RPC response (from a JSON body or the
// first SSE data line) and the session id header. A notification's 202 has no body.
func mcpCall(ctx context.Context, client *http.Client, target string, hdr http.Header, msg any) ([]byte, string, error) {
	body, err := json.Marshal(msg)
	if err != nil {
		return nil, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	req.Header = hdr.Clone()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, "", err
	}
	switch {
	case resp.StatusCode == http.StatusAccepted:
		return nil, "", nil
	case resp.StatusCode != http.StatusOK:
		return nil, "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(data))
	case strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"):
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
				return []byte(strings.TrimSpace(d)), resp.Header.Get("Mcp-Session-Id"), nil
			}
		}
		return nil, "", errors.New("an event stream without a data line")
	}
	return data, resp.Header.Get("Mcp-Session-Id"), nil
}
