package pickle

import (
	"reflect"
	"sort"
	"strings"
	"sync"
)

// field is one dict key of a struct: the resolved name and the index path
// (through embedded structs) of the Go field.
type field struct {
	name      string
	index     []int
	typ       reflect.Type
	tagged    bool
	omitEmpty bool
	omitZero  bool
}

// structInfo is the cached field list of a struct type, in encoding order,
// with lookup tables for decoding.
type structInfo struct {
	fields []field
	exact  map[string]int // name -> index in fields
	folded map[string]int // lower-case name -> index (first wins)
}

var fieldCache sync.Map // reflect.Type -> *structInfo

// cachedFields returns the dict keys of struct type t, following the rules
// of encoding/json: the `pickle` tag, else the `json` tag, names the key;
// "-" skips the field; ",omitempty" and ",omitzero" omit empty or zero
// values; fields of embedded structs are promoted, the shallowest (then the
// tagged) one wins a name conflict, and an unresolved conflict drops the
// name.
func cachedFields(t reflect.Type) *structInfo {
	if si, ok := fieldCache.Load(t); ok {
		return si.(*structInfo)
	}
	si := typeFields(t)
	actual, _ := fieldCache.LoadOrStore(t, si)
	return actual.(*structInfo)
}

// parseTag returns the key name and options of a field's `pickle` tag, or
// else its `json` tag; skip is true for the tag "-".
func parseTag(sf reflect.StructField) (name string, opts string, skip bool) {
	tag, ok := sf.Tag.Lookup("pickle")
	if !ok {
		tag = sf.Tag.Get("json")
	}
	if tag == "-" {
		return "", "", true
	}
	name, opts, _ = strings.Cut(tag, ",")
	return name, opts, false
}

func hasOpt(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

func typeFields(t reflect.Type) *structInfo {
	type queued struct {
		typ   reflect.Type
		index []int
	}
	current := []queued{}
	next := []queued{{typ: t}}
	visited := map[reflect.Type]bool{}
	var fields []field
	count := map[reflect.Type]int{}
	nextCount := map[reflect.Type]int{}

	for len(next) > 0 {
		current, next = next, current[:0]
		count, nextCount = nextCount, map[reflect.Type]int{}
		for _, q := range current {
			if visited[q.typ] {
				continue
			}
			visited[q.typ] = true
			for i := 0; i < q.typ.NumField(); i++ {
				sf := q.typ.Field(i)
				if sf.Anonymous {
					ft := sf.Type
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tagName, opts, skip := parseTag(sf)
				if skip {
					continue
				}
				index := make([]int, len(q.index)+1)
				copy(index, q.index)
				index[len(q.index)] = i
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if tagName != "" || !sf.Anonymous || ft.Kind() != reflect.Struct || isSpecialStruct(ft) {
					name := tagName
					if name == "" {
						name = sf.Name
					}
					fields = append(fields, field{
						name:      name,
						index:     index,
						typ:       sf.Type,
						tagged:    tagName != "",
						omitEmpty: hasOpt(opts, "omitempty"),
						omitZero:  hasOpt(opts, "omitzero"),
					})
					if count[q.typ] > 1 {
						// Two embeddings of the same type at one depth
						// annihilate each other; a second copy makes the
						// conflict visible below.
						fields = append(fields, fields[len(fields)-1])
					}
					continue
				}
				nextCount[ft]++
				if nextCount[ft] == 1 {
					next = append(next, queued{typ: ft, index: index})
				}
			}
		}
	}

	sort.SliceStable(fields, func(i, j int) bool {
		if fields[i].name != fields[j].name {
			return fields[i].name < fields[j].name
		}
		if len(fields[i].index) != len(fields[j].index) {
			return len(fields[i].index) < len(fields[j].index)
		}
		if fields[i].tagged != fields[j].tagged {
			return fields[i].tagged
		}
		return indexLess(fields[i].index, fields[j].index)
	})
	out := fields[:0]
	for i := 0; i < len(fields); {
		j := i + 1
		for j < len(fields) && fields[j].name == fields[i].name {
			j++
		}
		if f, ok := dominant(fields[i:j]); ok {
			out = append(out, f)
		}
		i = j
	}
	fields = out
	sort.Slice(fields, func(i, j int) bool { return indexLess(fields[i].index, fields[j].index) })

	si := &structInfo{fields: fields, exact: map[string]int{}, folded: map[string]int{}}
	for i, f := range fields {
		si.exact[f.name] = i
		l := strings.ToLower(f.name)
		if _, ok := si.folded[l]; !ok {
			si.folded[l] = i
		}
	}
	return si
}

func dominant(fs []field) (field, bool) {
	if len(fs) > 1 && len(fs[0].index) == len(fs[1].index) && fs[0].tagged == fs[1].tagged {
		return field{}, false
	}
	return fs[0], true
}

func indexLess(a, b []int) bool {
	for k, x := range a {
		if k >= len(b) {
			return false
		}
		if x != b[k] {
			return x < b[k]
		}
	}
	return len(a) < len(b)
}
