package domain

import (
	"errors"
	"strings"
)

var (
	// ErrNotFound: no such user (or token).
	ErrNotFound = errors.New("not found")
	// ErrEmailTaken: another account already has the email.
	ErrEmailTaken = errors.New("an account with this email already exists")
	// ErrUserDeleted: the account is deleted; it cannot change any more.
	ErrUserDeleted = errors.New("the account is deleted")
)

// FieldError names one invalid input field by its API (JSON) name.
type FieldError struct {
	Field   string
	Message string
}

// ValidationError lists every invalid field of one request.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Invalid returns a ValidationError for one field.
func Invalid(field, message string) *ValidationError {
	return &ValidationError{Fields: []FieldError{{Field: field, Message: message}}}
}

// Validator collects field errors so a request reports all of them at once.
type Validator struct {
	fields []FieldError
}

// Check records err (if it is not nil) under field. A ValidationError's own
// messages are kept; any other error's text becomes the message.
func (v *Validator) Check(field string, err error) {
	if err == nil {
		return
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			v.fields = append(v.fields, FieldError{Field: field, Message: f.Message})
		}
		return
	}
	v.fields = append(v.fields, FieldError{Field: field, Message: err.Error()})
}

// Add records a message under field.
func (v *Validator) Add(field, message string) {
	v.fields = append(v.fields, FieldError{Field: field, Message: message})
}

// Err is the collected ValidationError, or nil when every check passed.
func (v *Validator) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &ValidationError{Fields: v.fields}
}
