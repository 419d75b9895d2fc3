package demobackend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/portcullis/portcullis/shared/backendsig"
)

// Customer is one customer of a tenant. Email, phone, card and notes are the
// personal data masking rules are shown on.
type Customer struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Email       string    `json:"email"`
	Phone       string    `json:"phone"`
	PaymentCard string    `json:"payment_card"`
	Notes       string    `json:"notes"`
	CreatedAt   time.Time `json:"created_at"`
}

// Order is one order of a tenant. Amounts are kept in cents so refunds add
// up exactly; they are shown as decimal numbers.
type Order struct {
	ID            string
	CustomerID    string
	Status        string
	AmountCents   int64
	RefundedCents int64
	Currency      string
	CreatedAt     time.Time
}

// Order statuses (the enum of the orders.list status parameter).
const (
	StatusOpen     = "open"
	StatusPaid     = "paid"
	StatusShipped  = "shipped"
	StatusRefunded = "refunded"
)

// tenantData is one tenant's customers and orders, in creation order.
type tenantData struct {
	tenant    string
	customers []*Customer
	orders    []*Order
	nextOrder int
}

// seedTime makes the demo data identical on every run.
var seedTime = time.Date(2026, 1, 5, 9, 30, 0, 0, time.UTC)

// seedCustomers are the demo people. The card numbers are the public test
// numbers of the card networks (Luhn-valid, never chargeable).
var seedCustomers = []struct{ first, last, phone, card, notes string }{
	{"Ada", "Lovelace", "+1 415 555 0101", "4111 1111 1111 1111", "VIP. Call +1 415 555 0199 before shipping."},
	{"Grace", "Hopper", "+1 415 555 0102", "5555 5555 5555 4444", "Prefers email; assistant: grace.assistant@navy.example.org"},
	{"Alan", "Turing", "+44 20 7946 0103", "4242 4242 4242 4242", "Invoice to accounts@turing.example.co.uk"},
	{"Katherine", "Johnson", "+1 757 555 0104", "3782 822463 10005", "Net-30 terms approved."},
	{"Linus", "Torvalds", "+358 40 555 0105", "6011 1111 1111 1117", "Ships to the office, not home."},
}

// seedOrders are (customer index, status, cents, currency).
var seedOrders = []struct {
	customer int
	status   string
	cents    int64
	currency string
}{
	{0, StatusPaid, 12999, "USD"},
	{0, StatusShipped, 4500, "USD"},
	{1, StatusOpen, 250000, "USD"},
	{1, StatusPaid, 89900, "USD"},
	{2, StatusRefunded, 1999, "GBP"},
	{2, StatusShipped, 15000, "GBP"},
	{3, StatusPaid, 320050, "USD"},
	{4, StatusOpen, 7700, "EUR"},
}

// newTenantData seeds a tenant. Ids derive from the tenant id, so two
// tenants never share one (asking for another tenant's id is a plain 404).
func newTenantData(tenant string) *tenantData {
	d := &tenantData{tenant: tenant}
	for i, c := range seedCustomers {
		d.customers = append(d.customers, &Customer{
			ID:          "cus_" + derive(tenant, "customer", i),
			Name:        c.first + " " + c.last,
			Email:       fmt.Sprintf("%s.%s@%s.example.com", strings.ToLower(c.first), strings.ToLower(c.last), strings.ToLower(tenant)),
			Phone:       c.phone,
			PaymentCard: c.card,
			Notes:       c.notes,
			CreatedAt:   seedTime.Add(time.Duration(i) * time.Hour),
		})
	}
	for i, o := range seedOrders {
		ord := d.newOrder(d.customers[o.customer].ID, o.cents, o.currency, seedTime.Add(24*time.Hour+time.Duration(i)*time.Hour))
		ord.Status = o.status
		if o.status == StatusRefunded {
			ord.RefundedCents = o.cents
		}
	}
	return d
}

// newOrder appends an order with the next id.
func (d *tenantData) newOrder(customerID string, cents int64, currency string, at time.Time) *Order {
	o := &Order{
		ID: "ord_" + derive(d.tenant, "order", d.nextOrder), CustomerID: customerID,
		Status: StatusPaid, AmountCents: cents, Currency: currency, CreatedAt: at,
	}
	d.nextOrder++
	d.orders = append(d.orders, o)
	return o
}

func derive(tenant, kind string, n int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%d", tenant, kind, n)))
	return hex.EncodeToString(sum[:6])
}

func (d *tenantData) customer(id string) *Customer {
	for _, c := range d.customers {
		if c.ID == id {
			return c
		}
	}
	return nil
}

func (d *tenantData) order(id string) *Order {
	for _, o := range d.orders {
		if o.ID == id {
			return o
		}
	}
	return nil
}

// withTenant runs fn on the caller's tenant data under the lock, seeding it
// on first use. It reports false when the backend holds too many tenants.
func (b *Backend) withTenant(tenant string, fn func(d *tenantData)) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.tenants[tenant]
	if !ok {
		if len(b.tenants) >= maxTenants {
			return false
		}
		d = newTenantData(tenant)
		b.tenants[tenant] = d
	}
	fn(d)
	return true
}

type identityKey struct{}

func withIdentity(ctx context.Context, id backendsig.Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// tenantOf is the verified tenant of a request that passed verified().
func tenantOf(ctx context.Context) string {
	id, _ := ctx.Value(identityKey{}).(backendsig.Identity)
	return id.Tenant
}
