package pickle_test

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/djcache/djcache/pickle"
)

// Marshal writes what Django writes for the same Python value.
func ExampleMarshal() {
	data, err := pickle.Marshal(map[string]any{"a": 1})
	if err != nil {
		panic(err)
	}
	fmt.Println(hex.EncodeToString(data)) // pickle.dumps({'a': 1}, 5)

	data, _ = pickle.Marshal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))
	fmt.Println(len(data), "bytes for an aware datetime")
	// Output:
	// 8005950a000000000000007d948c0161944b01732e
	// 98 bytes for an aware datetime
}

// Unmarshal into an *any gives the natural Go values.
func ExampleUnmarshal() {
	// pickle.dumps({'a': [1, 2.5, None, True], 'b': b'x'}, 5), as Django stores it.
	data, _ := hex.DecodeString("80059522000000000000007d94288c0161945d94284b014740040000000000004e88658c01629443017894752e")
	var v any
	if err := pickle.Unmarshal(data, &v); err != nil {
		panic(err)
	}
	fmt.Printf("%#v\n", v.(map[string]any)["a"])
	// Output:
	// []interface {}{1, 2.5, interface {}(nil), true}
}

// A dict decodes into a struct; mismatched types are clear errors.
func ExampleUnmarshal_struct() {
	data, _ := pickle.Marshal(map[string]any{
		"name":  "Ada",
		"born":  pickle.Date{Year: 1815, Month: time.December, Day: 10},
		"langs": pickle.Tuple{"en", "fr"},
	})
	var person struct {
		Name  string      `pickle:"name"`
		Born  pickle.Date `pickle:"born"`
		Langs []string    `pickle:"langs"`
	}
	if err := pickle.Unmarshal(data, &person); err != nil {
		panic(err)
	}
	fmt.Println(person.Name, person.Born, person.Langs)

	var n int
	fmt.Println(pickle.Unmarshal(data, &n))

	// GLOBAL os.system, as a malicious pickle would start.
	fmt.Println(pickle.Unmarshal([]byte("cos\nsystem\n(S'id'\ntR."), &n))
	// Output:
	// Ada 1815-12-10 [en fr]
	// pickle: cannot decode Python dict into Go int
	// pickle: class os.system is not allowed
}
