package pickle

import (
	"errors"
	"fmt"
	"reflect"
)

// ErrTruncated reports pickle data that ends before its STOP opcode or in
// the middle of an opcode's argument. Errors wrap it with the offset.
var ErrTruncated = errors.New("pickle: truncated data")

// ClassError reports a global (a class or function) that the pickle names
// and that Unmarshal does not allow: only the classes listed in the
// package documentation are resolved, and nothing is ever executed.
type ClassError struct {
	Module, Name string
}

func (e *ClassError) Error() string {
	return fmt.Sprintf("pickle: class %s.%s is not allowed", e.Module, e.Name)
}

// UnmarshalTypeError reports a Python value that does not fit the Go
// destination: the wrong kind of value, or a number out of range.
type UnmarshalTypeError struct {
	Python string       // the Python type, e.g. "str", "int", "datetime.date"
	Go     reflect.Type // the Go destination type
	Path   string       // where in the destination, e.g. ".Items[2]" ("" for the top)
	Detail string       // extra explanation ("overflows", ...), may be empty
}

func (e *UnmarshalTypeError) Error() string {
	s := fmt.Sprintf("pickle: cannot decode Python %s into Go %v", e.Python, e.Go)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	if e.Path != "" {
		s += " at " + e.Path
	}
	return s
}

// UnsupportedTypeError reports a Go value Marshal cannot write: channels,
// functions, complex numbers, unsafe pointers, and struct or map values
// used where Python needs a hashable value.
type UnsupportedTypeError struct {
	Type   reflect.Type
	Reason string // may be empty
}

func (e *UnsupportedTypeError) Error() string {
	s := fmt.Sprintf("pickle: cannot encode Go %v", e.Type)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// InvalidUnmarshalError reports a destination that is not a non-nil pointer.
type InvalidUnmarshalError struct {
	Type reflect.Type
}

func (e *InvalidUnmarshalError) Error() string {
	if e.Type == nil {
		return "pickle: Unmarshal(nil)"
	}
	if e.Type.Kind() != reflect.Pointer {
		return "pickle: Unmarshal(non-pointer " + e.Type.String() + ")"
	}
	return "pickle: Unmarshal(nil " + e.Type.String() + ")"
}
