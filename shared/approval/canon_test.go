package approval

import (
	"errors"
	"strings"
	"testing"
)

func TestCanonical(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"empty is {}", "", "{}"},
		{"null is {}", " null ", "{}"},
		{"whitespace removed", " { \"a\" : [ 1 , 2 ] } ", `{"a":[1,2]}`},
		{"keys sorted", `{"b":1,"a":2,"aa":3,"A":4}`, `{"A":4,"a":2,"aa":3,"b":1}`},
		{"nested sorted", `{"z":{"y":1,"x":[{"b":1,"a":2}]}}`, `{"z":{"x":[{"a":2,"b":1}],"y":1}}`},
		{"numbers as given", `{"a":1.0,"b":1e0,"c":-0,"d":12345678901234567890}`, `{"a":1.0,"b":1e0,"c":-0,"d":12345678901234567890}`},
		{"literals", `[true,false,null]`, `[true,false,null]`},
		{"escapes minimal", `"\u0041\/\u00e9\u2028<>&"`, "\"A/\u00e9\u2028<>&\""},
		{"control escapes", `"\b\f\n\r\t\u0001\u001f\"\\"`, `"\b\f\n\r\t\u0001\u001f\"\\"`},
		// RFC 8785 §3.2.3: U+FB33 (BMP) sorts after U+1D11E (surrogates 0xD834...) in UTF-16 order,
		// though before it in code point order.
		{"utf16 key order", "{\"\ufb33\":1,\"\U0001d11e\":2}", "{\"\U0001d11e\":2,\"\ufb33\":1}"},
		{"scalar top level", `"x"`, `"x"`},
		{"surrogate pair", `"\ud834\udd1e"`, "\"\U0001d11e\""},
		{"escaped backslash then u", `"\\ud800"`, `"\\ud800"`},
	}
	for _, c := range cases {
		got, err := Canonical([]byte(c.in))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}

func TestCanonicalRejects(t *testing.T) {
	for name, in := range map[string]string{
		"duplicate key":  `{"a":1,"a":2}`,
		"nested dup":     `{"x":{"a":1,"a":1}}`,
		"trailing data":  `{} {}`,
		"trailing comma": `{"a":1,}`,
		"invalid utf8":   "{\"a\":\"\xff\"}",
		"unterminated":   `{"a":`,
		"too deep":       strings.Repeat("[", 100) + strings.Repeat("]", 100),
		"bare word":      `{"a":nope}`,
		"lone high":      `{"a":"\ud800"}`,
		"lone low":       `{"a":"\udc00x"}`,
		"high then char": `{"a":"\ud834x\udd1e"}`,
		"two highs":      `{"a":"\ud834\ud834"}`,
		"lone in key":    `{"\uDFFF":1}`,
	} {
		if _, err := Canonical([]byte(in)); !errors.Is(err, ErrNotCanonicalizable) {
			t.Errorf("%s: got %v, want ErrNotCanonicalizable", name, err)
		}
	}
}

// TestArgsHash pins the hash of one document (computed independently:
// printf '%s' '{"amount":42,"currency":"EUR","to":{"iban":"DE00","name":"Zoë"}}' | sha256sum)
// and checks that equivalent spellings hash alike and different calls do not.
func TestArgsHash(t *testing.T) {
	const pinned = "93ac9d4c534a896502b406810d69fda390b377c4414b9267909a1c5f0a53b933"
	a, err := ArgsHash([]byte(` {"to":{"name":"Zo\u00eb","iban":"DE00"}, "currency":"EUR","amount":42}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ArgsHash([]byte(`{"amount":42,"currency":"EUR","to":{"iban":"DE00","name":"Zoë"}}`))
	c, _ := ArgsHash([]byte(`{"amount":43,"currency":"EUR","to":{"iban":"DE00","name":"Zoë"}}`))
	if a != b {
		t.Errorf("equivalent spellings hash differently: %s vs %s", a, b)
	}
	if a == c {
		t.Error("different arguments hash alike")
	}
	if a != pinned {
		t.Errorf("hash = %s, want %s", a, pinned)
	}
	empty, _ := ArgsHash(nil)
	obj, _ := ArgsHash([]byte(`{}`))
	if empty != obj {
		t.Error("absent arguments and {} must hash alike")
	}
}
