package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

type doc struct {
	A int `json:"a"`
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		in       string
		trailing bool
		ok       bool
	}{
		{`{"a":1}`, false, true},
		{" {\"a\":1}\n", false, true},
		{`{"a":1}]`, true, false},
		{`{"a":1} {"a":2}`, true, false},
		{`{"a":1}x`, true, false},
		{`{"b":1}`, false, false},
		{`{"a":"1"}`, false, false},
		{``, false, false},
	} {
		var d doc
		err := Decode([]byte(tc.in), &d)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v, want ok=%v", tc.in, err, tc.ok)
		}
		if errors.Is(err, ErrTrailingData) != tc.trailing {
			t.Errorf("%q: trailing=%v, want %v", tc.in, errors.Is(err, ErrTrailingData), tc.trailing)
		}
	}
	var te *json.UnmarshalTypeError
	if err := Decode([]byte(`{"a":"x"}`), &doc{}); !errors.As(err, &te) || te.Field != "a" {
		t.Errorf("type error not returned as is: %v", err)
	}
	var m map[string]any
	if err := DecodeReader(bytes.NewReader([]byte(`{"n":12345678901234567890}`)), &m, Options{UseNumber: true}); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["n"].(json.Number); !ok {
		t.Errorf("UseNumber: got %T", m["n"])
	}
}
