package approval

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzCanonical: the canonical form is a fixed point, valid JSON, and means
// the same as the input. `go test` runs the seeds; `go test -fuzz
// FuzzCanonical ./shared/approval` explores.
func FuzzCanonical(f *testing.F) {
	for _, seed := range []string{`{}`, `{"b":[1,2.50,{"z":null,"a":true}],"a":"\u00e9\n"}`, `[1e10,-0.0]`,
		`{"\ud834\udd1e":1,"\ufb33":2}`, `"\u2028<&>"`, ` {"a" : { "b" : [ ] } } `} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := Canonical(in)
		if err != nil {
			return
		}
		again, err := Canonical(c)
		if err != nil || !bytes.Equal(again, c) {
			t.Fatalf("not a fixed point: %s -> %s (%v)", c, again, err)
		}
		if t := bytes.Trim(in, " \t\n\r"); len(t) == 0 || string(t) == "null" {
			return
		}
		a, err := decodeNumbers(in)
		if err != nil {
			t.Fatalf("accepted invalid JSON %q: %v", in, err)
		}
		if b, err := decodeNumbers(c); err != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("meaning changed: %s -> %s (%v)", in, c, err)
		}
	})
}

// decodeNumbers decodes keeping numbers as written (1e400 is valid JSON).
func decodeNumbers(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}
