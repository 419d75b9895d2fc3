package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// demoIDs are the acme order and customer the banner's policy commands use.
type demoIDs struct {
	order, customer string
}

// Placeholders the banner prints when the ids could not be looked up.
var unknownDemoIDs = demoIDs{order: "<an order id: tools/call orders.list>", customer: "<a customer id: tools/call customers.list>"}

// lookupDemoIDs asks the gateway (as alice, through the whole pipeline) for acme's first order,
// so that the printed commands work as pasted. The demo backend derives its ids from the tenant,
// so they are stable across runs, but only the backend knows them.
func lookupDemoIDs(ctx context.Context, client *http.Client, target, token string) (demoIDs, error) {
	ctx, cancel := context.WithTimeout(ctx, smokeTimeout)
	defer cancel()
	hdr, err := initialize(ctx, client, target, token)
	if err != nil {
		return demoIDs{}, err
	}
	resp, _, err := mcpCall(ctx, client, target, hdr, map[string]any{"jsonrpc": "2.0", "id": 2, "method": "tools/call",
		"params": map[string]any{"name": "orders.list", "arguments": map[string]any{"status": "paid", "limit": 1}}})
	if err != nil {
		return demoIDs{}, fmt.Errorf("orders.list: %w", err)
	}
	var out struct {
		Result *struct {
			IsError    bool `json:"isError"`
			Structured *struct {
				Items []struct {
					ID         string `json:"id"`
					CustomerID string `json:"customer_id"`
				} `json:"items"`
			} `json:"structuredContent"`
		} `json:"result"`
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		return demoIDs{}, fmt.Errorf("orders.list: %w", err)
	}
	r := out.Result
	if r == nil || r.IsError || r.Structured == nil || len(r.Structured.Items) == 0 {
		return demoIDs{}, errors.New("orders.list: no paid order in the answer: " + string(resp))
	}
	first := r.Structured.Items[0]
	if first.ID == "" || first.CustomerID == "" {
		return demoIDs{}, errors.New("orders.list: an order without id or customer: " + string(resp))
	}
	return demoIDs{order: first.ID, customer: first.CustomerID}, nil
}
