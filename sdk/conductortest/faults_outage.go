package conductortest

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Outages, the other half of fault injection (see faults.go): the server
// stops listening and cuts every connection, as a crashed or restarting
// Conductor would, and comes back on the same port.

// Down makes the server unreachable: it closes the listener (new connections
// are refused) and every open connection. Requests being handled lose their
// connection. With d > 0 the server comes back by itself on the same port
// after d (in the background); with d <= 0 it stays down until Up. Either
// replaces the comeback of an earlier Down.
func (s *Server) Down(d time.Duration) {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	s.downLocked()
	if s.downTimer != nil {
		s.downTimer.Stop()
		s.downTimer = nil
	}
	if d <= 0 {
		return
	}
	s.downTimer = time.AfterFunc(d, func() {
		s.lnMu.Lock()
		defer s.lnMu.Unlock()
		if err := s.upLocked(); err != nil {
			s.log.WithError(err).Warn("conductortest: could not come back up")
		}
	})
}

func (s *Server) downLocked() {
	if s.down {
		return
	}
	s.down = true
	if s.ln != nil {
		_ = s.ln.Close()
		s.ln = nil
	}
	for c := range s.conns {
		_ = c.Close()
		delete(s.conns, c)
	}
	s.faultCounts.downs.Add(1)
}

// Up listens again on the port the server had before Down, at once.
func (s *Server) Up() error {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	return s.upLocked()
}

func (s *Server) upLocked() error {
	select {
	case <-s.closing:
		return errors.New("conductortest: server is closed")
	default:
	}
	if !s.down {
		return nil
	}
	if s.downTimer != nil {
		s.downTimer.Stop()
		s.downTimer = nil
	}
	var ln net.Listener
	var err error
	// The old socket may take a moment to release the port.
	for range 50 {
		ln, err = net.Listen("tcp", s.addr)
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("conductortest: listen again on %s: %w", s.addr, err)
	}
	s.down = false
	s.serve(ln)
	return nil
}

// IsDown reports whether the server is currently refusing connections.
func (s *Server) IsDown() bool {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	return s.down
}
