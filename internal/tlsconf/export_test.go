package tlsconf

import "time"

// LoadAt is Load checking the certificates' dates at now instead of the clock, for a Provider
// that serves a certificate that has expired since.
func LoadAt(f Files, now time.Time) (*Provider, error) {
	return load(f, false, func() time.Time { return now })
}

// SetHandshakeTimeout sets the handshake cap of credentials made afterwards.
func (p *Provider) SetHandshakeTimeout(d time.Duration) { p.handshakeTimeout = d }

// SetWatchDebounce sets the debounce period of watches started afterwards.
func (p *Provider) SetWatchDebounce(d time.Duration) { p.watchDebounce = d }
