package events

// SetBeforeMark installs the relay's crash stand-in; call it before Run.
func SetBeforeMark(r *Relay, f func() error) { r.beforeMark = f }
