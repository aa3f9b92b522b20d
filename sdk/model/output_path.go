package model

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// unencodablePath names the part of v that json.Marshal refuses, as a path
// from the output's root ("items[2].price"), or "" when it cannot tell (the
// whole value fails, or a custom marshaller does). It runs only after
// json.Marshal(v) has failed, so its cost is paid by broken outputs alone.
func unencodablePath(v interface{}) string {
	return findUnencodable(reflect.ValueOf(v), "", 0)
}

func findUnencodable(v reflect.Value, path string, depth int) string {
	if depth > 32 || !v.IsValid() {
		return path
	}
	if v.CanInterface() {
		if _, isMarshaler := v.Interface().(json.Marshaler); isMarshaler {
			return path // a custom encoding: its own error says why
		}
	}
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return path
		}
		v = v.Elem()
	}
	fails := func(c reflect.Value) bool {
		if !c.CanInterface() {
			return false
		}
		_, err := json.Marshal(c.Interface())
		return err != nil
	}
	join := func(name string) string {
		if path == "" {
			return name
		}
		return path + "." + name
	}
	switch v.Kind() {
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			if c := v.MapIndex(k); fails(c) {
				return findUnencodable(c, join(fmt.Sprint(k)), depth+1)
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, ok := jsonFieldName(f)
			if !ok {
				continue
			}
			c := v.Field(i)
			if f.Anonymous && name == "" {
				if p := findUnencodable(c, path, depth+1); p != path {
					return p
				}
				continue
			}
			if fails(c) {
				return findUnencodable(c, join(name), depth+1)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if c := v.Index(i); fails(c) {
				return findUnencodable(c, fmt.Sprintf("%s[%d]", path, i), depth+1)
			}
		}
	}
	return path
}

// jsonFieldName is the key encoding/json uses for f: "" for an embedded
// struct whose fields are promoted, false for a field it skips.
func jsonFieldName(f reflect.StructField) (string, bool) {
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, _, _ := strings.Cut(tag, ",")
	if f.Anonymous && name == "" {
		return "", true
	}
	if !f.IsExported() {
		return "", false
	}
	if name == "" {
		name = f.Name
	}
	return name, true
}
