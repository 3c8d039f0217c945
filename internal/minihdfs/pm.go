package minihdfs

import (
	"fmt"
	"reflect"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// The client registers every hadoop.* message type; the servers here build and parse them
	// by name.
	_ "github.com/colinmarc/hdfs/v2"
)

// pm is a protobuf message handled by field name through protoreflect. The Hadoop message
// types come from the registry (the client's generated packages are internal to it), so the
// servers here never see a Go struct for them. A field name that the message does not have
// is a programming error and panics; so does a value of the wrong kind.
type pm struct{ m protoreflect.Message }

// hdfsMsg returns a new hadoop.hdfs.<name> with the fields given as name, value pairs.
func hdfsMsg(name string, kv ...any) pm { return newMsg("hadoop.hdfs."+name, kv...) }

// commonMsg returns a new hadoop.common.<name> with the fields given as name, value pairs.
func commonMsg(name string, kv ...any) pm { return newMsg("hadoop.common."+name, kv...) }

func newMsg(full string, kv ...any) pm {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(full))
	if err != nil {
		panic(fmt.Sprintf("minihdfs: protobuf message %s is not registered: %v", full, err))
	}
	p := pm{mt.New()}
	if len(kv)%2 != 0 {
		panic(fmt.Sprintf("minihdfs: %s: odd number of field arguments", full))
	}
	for i := 0; i < len(kv); i += 2 {
		p.Set(kv[i].(string), kv[i+1])
	}
	return p
}

// parseMsg decodes b as the named message; missing required fields are an error.
func parseMsg(full string, b []byte) (pm, error) {
	p := newMsg(full)
	if err := proto.Unmarshal(b, p.m.Interface()); err != nil {
		return pm{}, fmt.Errorf("decode %s: %w", full, err)
	}
	return p, nil
}

// Name is the message's full name.
func (p pm) Name() string { return string(p.m.Descriptor().FullName()) }

// Valid reports whether p holds a message (an unset sub-message does not).
func (p pm) Valid() bool { return p.m != nil && p.m.IsValid() }

// Marshal encodes p; a missing required field is an error.
func (p pm) Marshal() ([]byte, error) { return proto.Marshal(p.m.Interface()) }

func (p pm) field(name string) protoreflect.FieldDescriptor {
	fd := p.m.Descriptor().Fields().ByName(protoreflect.Name(name))
	if fd == nil {
		panic(fmt.Sprintf("minihdfs: %s has no field %q", p.m.Descriptor().FullName(), name))
	}
	return fd
}

// Has reports whether the field is set (for a repeated field: not empty).
func (p pm) Has(name string) bool { return p.Valid() && p.m.Has(p.field(name)) }

// Str returns a string field (or its default).
func (p pm) Str(name string) string { return p.get(name).String() }

// Bytes returns a bytes field.
func (p pm) Bytes(name string) []byte { return p.get(name).Bytes() }

// Bool returns a bool field.
func (p pm) Bool(name string) bool { return p.get(name).Bool() }

// Int returns a signed integer field.
func (p pm) Int(name string) int64 { return p.get(name).Int() }

// Uint returns an unsigned integer field.
func (p pm) Uint(name string) uint64 { return p.get(name).Uint() }

// Enum returns the name of an enum field's value.
func (p pm) Enum(name string) string {
	fd := p.field(name)
	num := p.get(name).Enum()
	if v := fd.Enum().Values().ByNumber(num); v != nil {
		return string(v.Name())
	}
	return fmt.Sprint(num)
}

// Msg returns a sub-message; it is not Valid when unset.
func (p pm) Msg(name string) pm {
	if !p.Valid() {
		return pm{}
	}
	return pm{p.m.Get(p.field(name)).Message()}
}

// List returns the elements of a repeated message field.
func (p pm) List(name string) []pm {
	if !p.Valid() {
		return nil
	}
	l := p.m.Get(p.field(name)).List()
	out := make([]pm, l.Len())
	for i := range out {
		out[i] = pm{l.Get(i).Message()}
	}
	return out
}

// Enums returns the names of a repeated enum field's values.
func (p pm) Enums(name string) []string {
	if !p.Valid() {
		return nil
	}
	fd := p.field(name)
	l := p.m.Get(fd).List()
	out := make([]string, l.Len())
	for i := range out {
		num := l.Get(i).Enum()
		if v := fd.Enum().Values().ByNumber(num); v != nil {
			out[i] = string(v.Name())
		} else {
			out[i] = fmt.Sprint(num)
		}
	}
	return out
}

func (p pm) get(name string) protoreflect.Value {
	fd := p.field(name)
	if !p.Valid() {
		return fd.Default()
	}
	return p.m.Get(fd)
}

// Set sets a field and returns p. Integers of any Go type fit integer fields, a string names
// an enum value, a pm fills a message field, and a slice fills a repeated field.
func (p pm) Set(name string, v any) pm {
	fd := p.field(name)
	if fd.IsList() {
		l := p.m.Mutable(fd).List()
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Slice {
			panic(fmt.Sprintf("minihdfs: %s.%s is repeated: want a slice, got %T", p.Name(), name, v))
		}
		for i := 0; i < rv.Len(); i++ {
			l.Append(scalar(fd, rv.Index(i).Interface()))
		}
		return p
	}
	p.m.Set(fd, scalar(fd, v))
	return p
}

// scalar converts a Go value to the protoreflect value a (single) field of fd's kind holds.
func scalar(fd protoreflect.FieldDescriptor, v any) protoreflect.Value {
	bad := func() protoreflect.Value {
		panic(fmt.Sprintf("minihdfs: field %s (%s) cannot hold %T", fd.FullName(), fd.Kind(), v))
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		if b, ok := v.(bool); ok {
			return protoreflect.ValueOfBool(b)
		}
	case protoreflect.StringKind:
		if s, ok := v.(string); ok {
			return protoreflect.ValueOfString(s)
		}
	case protoreflect.BytesKind:
		switch b := v.(type) {
		case []byte:
			return protoreflect.ValueOfBytes(b)
		case string:
			return protoreflect.ValueOfBytes([]byte(b))
		}
	case protoreflect.EnumKind:
		if s, ok := v.(string); ok {
			ev := fd.Enum().Values().ByName(protoreflect.Name(s))
			if ev == nil {
				panic(fmt.Sprintf("minihdfs: enum %s has no value %q", fd.Enum().FullName(), s))
			}
			return protoreflect.ValueOfEnum(ev.Number())
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if m, ok := v.(pm); ok {
			return protoreflect.ValueOfMessage(m.m)
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		if n, ok := toInt64(v); ok {
			return protoreflect.ValueOfInt32(int32(n))
		}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if n, ok := toInt64(v); ok {
			return protoreflect.ValueOfInt64(n)
		}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		if n, ok := toInt64(v); ok {
			return protoreflect.ValueOfUint32(uint32(n))
		}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if n, ok := v.(uint64); ok {
			return protoreflect.ValueOfUint64(n)
		}
		if n, ok := toInt64(v); ok {
			return protoreflect.ValueOfUint64(uint64(n))
		}
	}
	return bad()
}

// toInt64 converts any Go integer to int64 (a uint64 keeps its bits).
func toInt64(v any) (int64, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return int64(rv.Uint()), true
	}
	return 0, false
}
