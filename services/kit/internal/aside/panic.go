package aside

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
)

// PanicError carries a load's panic out of the goroutine of a shared load
// (singleflight, BlindGroup) so that each reader re-panics on its own
// goroutine, where the HTTP recover middleware sees it.
type PanicError struct {
	What  string // "cache loader", "ranking load": the start of Error
	Value any
	Stack []byte
}

// Recovered is a PanicError of what for a value recover returned, with the
// stack of the panicking goroutine; call it in the deferred function.
func Recovered(what string, v any) *PanicError {
	return &PanicError{What: what, Value: v, Stack: debug.Stack()}
}

func (p *PanicError) Error() string {
	return fmt.Sprintf("%s panic: %v\n\n%s", p.What, p.Value, p.Stack)
}

// Unwrap is the panic's value when it was an error.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// IsContextErr reports a cancelled or timed-out context: a shared load that
// ended so for the reader that started it says nothing to the others.
func IsContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
