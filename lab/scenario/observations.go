package scenario

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// ObsOf declares a scenario's observation type T (Scenario.Obs): readers
// decode a result's observations into a new T without knowing the id.
func ObsOf[T any]() func() any { return func() any { return new(T) } }

// Record stores the driver's observations, a pointer to the scenario's
// observation struct, in the result. A driver records once, after it
// measured; recording again replaces the earlier value.
func (e *Env) Record(obs any) error {
	b, err := json.Marshal(obs)
	if err != nil {
		return fmt.Errorf("recording observations: %w", err)
	}
	e.res.Observations = b
	e.recorded = reflect.TypeOf(obs)
	return nil
}

// CheckRecorded says whether the driver that ran in e recorded exactly
// sc's declared observation type.
func (sc *Scenario) CheckRecorded(e *Env) error {
	var got reflect.Type
	if e != nil {
		got = e.recorded
	}
	return checkRecorded(sc, got)
}

// checkRecorded: a driver that ran records exactly its declared type.
func checkRecorded(sc *Scenario, got reflect.Type) error {
	switch {
	case sc.Obs == nil:
		return fmt.Errorf("scenario %s declares no observation type", sc.ID)
	case got == nil:
		return fmt.Errorf("driver recorded no observations")
	case got != reflect.TypeOf(sc.Obs()):
		return fmt.Errorf("driver recorded %v, scenario declares %T", got, sc.Obs())
	}
	return nil
}

// Observations decodes r's observations into T strictly: an unknown field,
// a missing field (every field without omitempty must be present), a null
// where a value belongs, or a wrong type is an error, never a zero value.
func Observations[T any](r *Result) (T, error) {
	var v T
	err := decodeStrict(r, &v)
	return v, err
}

// ReadObs is Observations under the name tests and reports use.
func ReadObs[T any](r *Result) (T, error) { return Observations[T](r) }

// DecodeObs decodes r's observations into a new value of s's observation
// type (a pointer to the struct), strictly as Observations does.
func (s *Scenario) DecodeObs(r *Result) (any, error) {
	if s.Obs == nil {
		return nil, fmt.Errorf("scenario %s declares no observation type", s.ID)
	}
	v := s.Obs()
	return v, decodeStrict(r, v)
}

func decodeStrict(r *Result, v any) error {
	raw := bytes.TrimSpace(r.Observations)
	if len(raw) == 0 || string(raw) == "null" {
		return fmt.Errorf("%s: the result has no observations", r.Scenario)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s observations as %T: %w", r.Scenario, v, err)
	}
	if err := present(raw, reflect.TypeOf(v).Elem(), "observations"); err != nil {
		return fmt.Errorf("%s: %w", r.Scenario, err)
	}
	return nil
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// present checks that raw, already decoded into a t without error, holds
// every field t requires: json.Unmarshal leaves absent fields and nulls at
// their zero value, which would read as a measurement of zero.
func present(raw json.RawMessage, t reflect.Type, path string) error {
	null := string(bytes.TrimSpace(raw)) == "null"
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		if null || t.Kind() == reflect.Interface {
			return nil
		}
		return present(raw, t.Elem(), path)
	case reflect.Slice, reflect.Map:
		if null { // a nil slice or map marshals as null
			return nil
		}
	}
	if null {
		return fmt.Errorf("%s is null, want %v", path, t)
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(jsonUnmarshaler) || pt.Implements(textUnmarshaler) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return structPresent(fields, t, path)
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for i, el := range elems {
			if err := present(el, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		var elems map[string]json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for k, el := range elems {
			if err := present(el, t.Elem(), path+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

func structPresent(fields map[string]json.RawMessage, t reflect.Type, path string) error {
	for i := range t.NumField() {
		f := t.Field(i)
		name, omit, skip := jsonName(f)
		if skip {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if err := structPresent(fields, ft, path); err != nil {
					return err
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		v, ok := fields[name]
		if !ok {
			if omit {
				continue
			}
			return fmt.Errorf("%s.%s is missing", path, name)
		}
		if err := present(v, f.Type, path+"."+name); err != nil {
			return err
		}
	}
	return nil
}

// jsonName is f's JSON key ("" for an untagged field), whether it is
// omitempty, and whether encoding/json ignores it.
func jsonName(f reflect.StructField) (name string, omit, skip bool) {
	if !f.IsExported() && !f.Anonymous {
		return "", false, true
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false, true
	}
	name, opts, _ := strings.Cut(tag, ",")
	for _, o := range strings.Split(opts, ",") {
		omit = omit || o == "omitempty" || o == "omitzero"
	}
	return name, omit, false
}

// Figures lists the numbers of an observation struct by JSON name, for the
// report's reproducibility table: numeric fields, and numeric fields one
// level down in structs and maps ("parent.child"). Lists, strings and
// booleans are not figures.
func Figures(obs any) map[string]float64 {
	out := map[string]float64{}
	v := reflect.Indirect(reflect.ValueOf(obs))
	if v.Kind() != reflect.Struct {
		return out
	}
	eachField(v, func(name string, fv reflect.Value) {
		if f, ok := numberOf(fv); ok {
			out[name] = f
			return
		}
		fv = reflect.Indirect(fv)
		switch fv.Kind() {
		case reflect.Struct:
			eachField(fv, func(child string, cv reflect.Value) {
				if f, ok := numberOf(cv); ok {
					out[name+"."+child] = f
				}
			})
		case reflect.Map:
			if fv.Type().Key().Kind() != reflect.String {
				return
			}
			for it := fv.MapRange(); it.Next(); {
				if f, ok := numberOf(it.Value()); ok {
					out[name+"."+it.Key().String()] = f
				}
			}
		}
	})
	return out
}

func eachField(v reflect.Value, f func(name string, fv reflect.Value)) {
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		name, _, skip := jsonName(sf)
		if skip {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		f(name, v.Field(i))
	}
}

func numberOf(v reflect.Value) (float64, bool) {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(v.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(v.Uint()), true
	case reflect.Float32, reflect.Float64:
		return v.Float(), true
	}
	return 0, false
}
