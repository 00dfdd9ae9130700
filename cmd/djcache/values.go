package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/djcache/djcache/pickle"
)

var canonicalInt = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// parseValue turns a command-line value into the Go value to store, as
// --type says.
func parseValue(s, typ string) (any, error) {
	switch typ {
	case "auto":
		if canonicalInt.MatchString(s) {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n, nil
			}
		}
		return s, nil
	case "string", "str", "text":
		return s, nil
	case "bytes":
		return []byte(s), nil
	case "int":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, usagef("value %q is not an integer", s)
		}
		return n, nil
	case "float":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, usagef("value %q is not a number", s)
		}
		return f, nil
	case "bool":
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return nil, usagef("value %q is not a boolean (true, false, 1, 0)", s)
		}
		return b, nil
	case "json":
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, usagef("value is not JSON: %v", err)
		}
		return jsonNumbers(v), nil
	}
	return nil, usagef("unknown --type %q (want auto, string, int, float, bool, json or bytes)", typ)
}

// jsonNumbers turns json.Numbers into int64 or float64.
func jsonNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = jsonNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = jsonNumbers(e)
		}
	}
	return v
}

// readValue returns the value argument, or stdin when there is none. One
// trailing newline of stdin is dropped (echo adds it), except for bytes.
func readValue(args []string, stdin io.Reader, typ string) (string, error) {
	if len(args) > 0 {
		return args[0], nil
	}
	b, err := io.ReadAll(stdin)
	if err != nil {
		return "", fmt.Errorf("reading the value from stdin: %v", err)
	}
	if typ != "bytes" {
		b = bytes.TrimSuffix(b, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
	}
	return string(b), nil
}

// printValue writes a decoded value: text as it is, bytes raw, numbers and
// booleans in Go's notation, nil as null, structures as JSON; with --json,
// everything as JSON (bytes as base64). Python values that JSON lacks
// (a Django app's, read through the pickle serializer) print as
// jsonable makes them.
func printValue(w io.Writer, v any, asJSON bool) error {
	v = jsonable(v)
	if asJSON {
		return writeJSON(w, v)
	}
	switch x := v.(type) {
	case string:
		_, err := fmt.Fprintln(w, x)
		return err
	case json.Number:
		_, err := fmt.Fprintln(w, x)
		return err
	case []byte:
		_, err := w.Write(x)
		return err
	case nil:
		_, err := fmt.Fprintln(w, "null")
		return err
	case int64, uint64, float64, bool:
		_, err := fmt.Fprintln(w, x)
		return err
	}
	return writeJSON(w, v)
}

// jsonable returns v with the values of package pickle's mapping that
// encoding/json cannot write, or writes unhelpfully, replaced: a set or
// frozenset by a list sorted by its elements' JSON, a dict with keys other
// than str by an object keyed by each key's JSON (a str key as it is), a
// tuple used as a key by a list, a date, time of day or UUID by its text, a
// timedelta by its seconds, a Decimal by its digits as a JSON number (or a
// string for NaN and infinities, which JSON has no number for).
func jsonable(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonable(e)
		}
		return out
	case pickle.Tuple:
		return jsonable([]any(x))
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonable(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			key, ok := k.(string)
			if !ok {
				b, _ := json.Marshal(jsonable(k))
				key = string(b)
			}
			out[key] = jsonable(e)
		}
		return out
	case pickle.Set:
		return sortedItems(x)
	case pickle.FrozenSet:
		return sortedItems(x)
	case pickle.Date, pickle.UUID:
		return x.(fmt.Stringer).String()
	case pickle.Time:
		return x.String()
	case time.Duration:
		return json.Number(strconv.FormatFloat(x.Seconds(), 'f', -1, 64))
	case pickle.Decimal:
		if _, ok := new(big.Float).SetString(string(x)); ok {
			return json.Number(x)
		}
		return string(x)
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Array && rv.Type().Elem().Kind() == reflect.Interface {
		out := make([]any, rv.Len()) // a tuple that was a dict key or set element
		for i := range out {
			out[i] = jsonable(rv.Index(i).Interface())
		}
		return out
	}
	return v
}

// sortedItems returns a set's elements, jsonable, sorted by their JSON.
func sortedItems[S ~map[any]struct{}](s S) []any {
	type item struct {
		v   any
		key string
	}
	items := make([]item, 0, len(s))
	for e := range s {
		v := jsonable(e)
		b, _ := json.Marshal(v)
		items = append(items, item{v, string(b)})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].key < items[j].key })
	out := make([]any, len(items))
	for i, it := range items {
		out[i] = it.v
	}
	return out
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
