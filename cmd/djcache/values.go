package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
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
// everything as JSON (bytes as base64).
func printValue(w io.Writer, v any, asJSON bool) error {
	if asJSON {
		return writeJSON(w, v)
	}
	switch x := v.(type) {
	case string:
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

func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
