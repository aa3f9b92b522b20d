// Package sample is the counter's fixture.
package sample

// T is counted, and so are its exported methods.
type T struct{}

// M is counted as T.M.
func (T) M() {}

func (T) m() {}

// G is a generic type; its methods count too.
type G[K comparable, V any] struct{}

// Get is counted as G.Get.
func (*G[K, V]) Get() {}

type u struct{}

// M of an unexported type is not counted.
func (u) M() {}

// A and b: only A counts.
var A, b = 1, 2

const C = 3

func F() {}
