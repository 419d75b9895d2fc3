package demobackend

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// orderJSON is an order as the API shows it: with decimal amounts and the
// customer's email (more personal data for masking to find).
type orderJSON struct {
	ID             string      `json:"id"`
	CustomerID     string      `json:"customer_id"`
	Status         string      `json:"status"`
	Amount         json.Number `json:"amount"`
	RefundedAmount json.Number `json:"refunded_amount"`
	Currency       string      `json:"currency"`
	CustomerEmail  string      `json:"customer_email,omitempty"`
	CreatedAt      time.Time   `json:"created_at"`
}

func (d *tenantData) render(o *Order) orderJSON {
	out := orderJSON{
		ID: o.ID, CustomerID: o.CustomerID, Status: o.Status, Currency: o.Currency, CreatedAt: o.CreatedAt,
		Amount: decimal(o.AmountCents), RefundedAmount: decimal(o.RefundedCents),
	}
	if c := d.customer(o.CustomerID); c != nil {
		out.CustomerEmail = c.Email
	}
	return out
}

func decimal(cents int64) json.Number {
	return json.Number(fmt.Sprintf("%d.%02d", cents/100, cents%100))
}

// items is the list envelope of the document.
type items[T any] struct {
	Items []T `json:"items"`
}

// unavailable answers when the demo holds data for too many tenants.
func unavailable(w http.ResponseWriter) {
	writeError(w, http.StatusServiceUnavailable, "too_many_tenants", "the demo backend holds data for too many tenants")
}

// notFound answers 404 for the customer or order with the caller's id, cut
// short so a huge path segment is not echoed back whole.
func notFound(w http.ResponseWriter, what, id string) {
	writeError(w, http.StatusNotFound, "not_found", "no "+what+" "+strconv.Quote(truncate(id, 64)))
}

func (b *Backend) listCustomers(w http.ResponseWriter, r *http.Request) {
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	out := items[Customer]{Items: []Customer{}}
	ok := b.withTenant(tenantOf(r.Context()), func(d *tenantData) {
		for _, c := range d.customers {
			if q == "" || strings.Contains(strings.ToLower(c.Name), q) || strings.Contains(strings.ToLower(c.Email), q) {
				out.Items = append(out.Items, *c)
			}
		}
	})
	if !ok {
		unavailable(w)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (b *Backend) getCustomer(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("customer_id")
	var found *Customer
	ok := b.withTenant(tenantOf(r.Context()), func(d *tenantData) {
		if c := d.customer(id); c != nil {
			cp := *c
			found = &cp
		}
	})
	switch {
	case !ok:
		unavailable(w)
	case found == nil:
		notFound(w, "customer", id)
	default:
		writeJSON(w, http.StatusOK, found)
	}
}

var emailRe = regexp.MustCompile(`^[^@\s]{1,64}@[^@\s]{1,190}$`)

func (b *Backend) updateCustomer(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email *string `json:"email"`
		Phone *string `json:"phone"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	switch {
	case in.Email == nil && in.Phone == nil:
		writeError(w, http.StatusBadRequest, "bad_request", "give email, phone or both")
		return
	case in.Email != nil && !emailRe.MatchString(*in.Email):
		writeError(w, http.StatusBadRequest, "bad_request", "email is not an email address")
		return
	case in.Phone != nil && (len(*in.Phone) == 0 || len(*in.Phone) > 32):
		writeError(w, http.StatusBadRequest, "bad_request", "phone must be 1–32 characters")
		return
	}
	id := r.PathValue("customer_id")
	var updated *Customer
	ok := b.withTenant(tenantOf(r.Context()), func(d *tenantData) {
		c := d.customer(id)
		if c == nil {
			return
		}
		if in.Email != nil {
			c.Email = *in.Email
		}
		if in.Phone != nil {
			c.Phone = *in.Phone
		}
		cp := *c
		updated = &cp
	})
	switch {
	case !ok:
		unavailable(w)
	case updated == nil:
		notFound(w, "customer", id)
	default:
		writeJSON(w, http.StatusOK, updated)
	}
}

var statuses = map[string]bool{StatusOpen: true, StatusPaid: true, StatusShipped: true, StatusRefunded: true}

func (b *Backend) listOrders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status, customerID := q.Get("status"), q.Get("customer_id")
	if status != "" && !statuses[status] {
		writeError(w, http.StatusBadRequest, "bad_request", "status must be open, paid, shipped or refunded")
		return
	}
	limit := 20
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			writeError(w, http.StatusBadRequest, "bad_request", "limit must be an integer from 1 to 100")
			return
		}
		limit = n
	}
	out := items[orderJSON]{Items: []orderJSON{}}
	ok := b.withTenant(tenantOf(r.Context()), func(d *tenantData) {
		for _, o := range d.orders {
			if len(out.Items) == limit {
				break
			}
			if (status == "" || o.Status == status) && (customerID == "" || o.CustomerID == customerID) {
				out.Items = append(out.Items, d.render(o))
			}
		}
	})
	if !ok {
		unavailable(w)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

var currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)

func (b *Backend) createOrder(w http.ResponseWriter, r *http.Request) {
	var in struct {
		CustomerID string      `json:"customer_id"`
		Amount     json.Number `json:"amount"`
		Currency   string      `json:"currency"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	cents, err := toCents(in.Amount)
	if in.CustomerID == "" || err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "customer_id and a non-negative amount are required")
		return
	}
	if in.Currency == "" {
		in.Currency = "USD"
	}
	if !currencyRe.MatchString(in.Currency) {
		writeError(w, http.StatusBadRequest, "bad_request", "currency must be a 3-letter ISO code")
		return
	}
	var created *orderJSON
	var status int
	ok := b.withTenant(tenantOf(r.Context()), func(d *tenantData) {
		switch {
		case d.customer(in.CustomerID) == nil:
			status = http.StatusUnprocessableEntity
		case len(d.orders) >= maxOrders:
			status = http.StatusInsufficientStorage
		default:
			// The demo has no payment step: a new order is paid at once, so
			// it can be refunded straight away.
			o := d.newOrder(in.CustomerID, cents, in.Currency, time.Now().UTC().Truncate(time.Second))
			out := d.render(o)
			created, status = &out, http.StatusCreated
		}
	})
	switch {
	case !ok:
		unavailable(w)
	case status == http.StatusUnprocessableEntity:
		writeError(w, status, "unknown_customer", "no customer "+strconv.Quote(truncate(in.CustomerID, 64)))
	case status == http.StatusInsufficientStorage:
		writeError(w, status, "too_many_orders", "this tenant has too many orders for the demo")
	default:
		writeJSON(w, http.StatusCreated, created)
	}
}

func (b *Backend) getOrder(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("order_id")
	var found *orderJSON
	ok := b.withTenant(tenantOf(r.Context()), func(d *tenantData) {
		if o := d.order(id); o != nil {
			out := d.render(o)
			found = &out
		}
	})
	switch {
	case !ok:
		unavailable(w)
	case found == nil:
		notFound(w, "order", id)
	default:
		writeJSON(w, http.StatusOK, found)
	}
}

func (b *Backend) refundOrder(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Amount json.Number `json:"amount"`
		Reason string      `json:"reason"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	cents, err := toCents(in.Amount)
	if err != nil || cents == 0 || len(in.Reason) > 500 {
		writeError(w, http.StatusBadRequest, "bad_request", "amount must be a positive number and reason at most 500 characters")
		return
	}
	id := r.PathValue("order_id")
	var (
		out      orderJSON
		conflict string
		found    bool
	)
	ok := b.withTenant(tenantOf(r.Context()), func(d *tenantData) {
		o := d.order(id)
		if o == nil {
			return
		}
		found = true
		switch {
		case o.Status != StatusPaid && o.Status != StatusShipped:
			conflict = "only paid or shipped orders can be refunded; this one is " + o.Status
		case cents > o.AmountCents-o.RefundedCents:
			conflict = fmt.Sprintf("at most %s is left to refund", decimal(o.AmountCents-o.RefundedCents))
		default:
			o.RefundedCents += cents
			if o.RefundedCents == o.AmountCents {
				o.Status = StatusRefunded
			}
			out = d.render(o)
		}
	})
	switch {
	case !ok:
		unavailable(w)
	case !found:
		notFound(w, "order", id)
	case conflict != "":
		writeError(w, http.StatusConflict, "cannot_refund", conflict)
	default:
		writeJSON(w, http.StatusOK, out)
	}
}

// decodeBody reads one JSON object into v (unknown fields ignored, as the
// document does not forbid them) or answers 400.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(raw) > maxBody {
		writeError(w, http.StatusBadRequest, "bad_request", "unreadable or too large body")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if len(bytes.TrimSpace(raw)) == 0 || bytes.TrimSpace(raw)[0] != '{' || dec.Decode(v) != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "the body must be a JSON object of the documented shape")
		return false
	}
	return true
}

// toCents parses a non-negative decimal amount of at most a billion.
func toCents(n json.Number) (int64, error) {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f < 0 || f > 1e9 || math.IsNaN(f) {
		return 0, fmt.Errorf("bad amount %q", n)
	}
	return int64(math.Round(f * 100)), nil
}
