package scenario

import (
	"reflect"
	"testing"
)

type recObs struct {
	N int `json:"n"`
}

// A driver records exactly the type its scenario declares, or its result
// carries an error.
func TestCheckRecorded(t *testing.T) {
	sc := &Scenario{ID: "x", Obs: ObsOf[recObs]()}
	for _, tc := range []struct {
		name string
		sc   *Scenario
		got  reflect.Type
		ok   bool
	}{
		{"declared type", sc, reflect.TypeOf(&recObs{}), true},
		{"nothing recorded", sc, nil, false},
		{"another type", sc, reflect.TypeOf(&struct{ N int }{}), false},
		{"a value, not a pointer", sc, reflect.TypeOf(recObs{}), false},
		{"no type declared", &Scenario{ID: "y"}, reflect.TypeOf(&recObs{}), false},
	} {
		if err := checkRecorded(tc.sc, tc.got); (err == nil) != tc.ok {
			t.Errorf("%s: err %v", tc.name, err)
		}
	}
}
