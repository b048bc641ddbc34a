//go:build e2e

package main

// apiProxy sits between a Docker client and the engine on a unix socket of
// its own. It forwards every connection byte for byte (so hijacked and
// streaming connections work: attach, exec, logs, events) and counts the
// HTTP requests it sees in the client→engine stream. Kill cuts the engine
// off at once, as a manager that drops off the network mid-deploy would.

import (
	"bufio"
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

type apiProxy struct {
	upstream string // unix socket path of the engine
	dir      string
	sock     string
	ln       *net.UnixListener

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	counts map[string]int
	total  int
	writes int
	killed bool
	wg     sync.WaitGroup
	// onRequest, when set, sees each request as it reaches the engine.
	onRequest func(method, path string)
}

// OnRequest calls fn with each request's method and path as the request
// is forwarded to the engine (fault tests kill stackctl from it).
func (p *apiProxy) OnRequest(fn func(method, path string)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onRequest = fn
}

// newAPIProxy starts a proxy to upstream, a unix socket path or a
// "unix://" DOCKER_HOST; "" means DOCKER_HOST, else /var/run/docker.sock.
// It is closed when the test ends.
func newAPIProxy(t testing.TB, upstream string) *apiProxy {
	t.Helper()
	if upstream == "" {
		upstream = os.Getenv("DOCKER_HOST")
	}
	if upstream == "" {
		upstream = "unix:///var/run/docker.sock"
	}
	if !strings.Contains(upstream, "://") {
		upstream = "unix://" + upstream
	}
	path, ok := strings.CutPrefix(upstream, "unix://")
	if !ok {
		t.Fatalf("the API proxy forwards to unix sockets only, not %s: run the tests against a local engine", upstream)
	}
	// Unix socket paths must be shorter than 108 bytes: t.TempDir() may not be.
	dir, err := os.MkdirTemp("", "px")
	if err != nil {
		t.Fatal(err)
	}
	p := &apiProxy{
		upstream: path,
		dir:      dir,
		sock:     filepath.Join(dir, "d.sock"),
		conns:    map[net.Conn]struct{}{},
		counts:   map[string]int{},
	}
	p.ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: p.sock, Net: "unix"})
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	// Keep the socket file after Kill: connecting then gets "connection
	// refused", as from an engine that is down, not "no such file".
	p.ln.SetUnlinkOnClose(false)
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		p.Kill()
		p.wg.Wait()
		os.RemoveAll(dir)
	})
	return p
}

// Host is the DOCKER_HOST value that reaches the engine through the proxy.
func (p *apiProxy) Host() string { return "unix://" + p.sock }

// Counts returns the requests seen since the last Reset, by "METHOD /path"
// without the API version, the query and with IDs and names as {id}.
func (p *apiProxy) Counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.counts)
}

// Total is the number of requests seen since the last Reset.
func (p *apiProxy) Total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total
}

// Writes is the number of requests other than GET and HEAD since the last Reset.
func (p *apiProxy) Writes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.writes
}

// Reset sets the counts to zero.
func (p *apiProxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts = map[string]int{}
	p.total, p.writes = 0, 0
}

// waitIdle waits until no connection is open, so that every request of a
// client that has exited is counted. It reports whether that happened.
func (p *apiProxy) waitIdle(timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); ; time.Sleep(5 * time.Millisecond) {
		p.mu.Lock()
		n := len(p.conns)
		p.mu.Unlock()
		if n == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// Kill closes the listener and every open connection at once: new
// connections are refused and requests in flight are cut.
func (p *apiProxy) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.killed {
		return
	}
	p.killed = true
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *apiProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

// track registers connections so that Kill can close them; false once killed.
func (p *apiProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.killed {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *apiProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
	}
}

func (p *apiProxy) forward(down net.Conn) {
	defer p.wg.Done()
	if !p.track(down) {
		down.Close()
		return
	}
	up, err := net.Dial("unix", p.upstream)
	if err != nil {
		p.untrack(down)
		down.Close()
		return
	}
	if !p.track(up) {
		up.Close()
		p.untrack(down)
		down.Close()
		return
	}
	defer func() {
		p.untrack(down, up)
		down.Close()
		up.Close()
	}()
	done := make(chan struct{})
	go func() {
		// engine → client: plain copy.
		io.Copy(down, up)
		closeWrite(down)
		close(done)
	}()
	// client → engine: every byte read from the client goes on to the
	// engine, the last read held back until the parser has counted the
	// request it completes, so that a client never sees a response before
	// its request is counted. The parser only watches the stream.
	tee := &holdingTee{r: down, w: up}
	br := bufio.NewReader(tee)
	p.watch(br)
	tee.release()           // a raw stream from here on: no holding back
	io.Copy(io.Discard, br) // whatever the parser did not consume
	tee.flush()
	closeWrite(up)
	<-done
}

// holdingTee reads from r and writes what it read to w: in held mode one
// read late (each Read first writes out what the previous one returned),
// once released at once.
type holdingTee struct {
	r        io.Reader
	w        io.Writer
	held     []byte
	released bool
}

func (h *holdingTee) Read(b []byte) (int, error) {
	if err := h.flush(); err != nil {
		return 0, err
	}
	n, err := h.r.Read(b)
	h.held = append(h.held, b[:n]...)
	if h.released || err != nil {
		// bufio reads no more after an error: nothing would write it out.
		if werr := h.flush(); werr != nil && err == nil {
			err = werr
		}
	}
	return n, err
}

func (h *holdingTee) flush() error {
	if len(h.held) == 0 {
		return nil
	}
	_, err := h.w.Write(h.held)
	h.held = h.held[:0]
	return err
}

func (h *holdingTee) release() { h.released = true }

// watch parses requests off the client stream and counts them until the
// stream ends, cannot be parsed, or turns into a raw stream (an upgrade).
func (p *apiProxy) watch(br *bufio.Reader) {
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.ErrUnexpectedEOF) {
				p.count("UNPARSED", "")
			}
			return
		}
		p.count(req.Method, req.URL.Path)
		upgrade := req.Header.Get("Upgrade") != "" || strings.EqualFold(req.Header.Get("Connection"), "upgrade")
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return
		}
		req.Body.Close()
		if upgrade {
			return // hijacked: the rest is a raw stream
		}
	}
}

func (p *apiProxy) count(method, path string) {
	key := method
	if path != "" {
		key += " " + normalizeAPIPath(path)
	}
	p.mu.Lock()
	p.counts[key]++
	p.total++
	if method != http.MethodGet && method != http.MethodHead {
		p.writes++
	}
	fn := p.onRequest
	p.mu.Unlock()
	if fn != nil {
		fn(method, path)
	}
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

var apiVersionPrefix = regexp.MustCompile(`^/v[0-9]+\.[0-9]+/`)

// Collections whose second path segment is an ID or a name, and the words
// that are actions on the collection itself instead.
var (
	apiCollections = map[string]bool{
		"services": true, "secrets": true, "configs": true, "networks": true, "tasks": true,
		"nodes": true, "containers": true, "exec": true, "volumes": true, "plugins": true,
		"images": true, "distribution": true,
	}
	apiCollectionActions = map[string]bool{
		"create": true, "json": true, "prune": true, "load": true, "search": true,
		"get": true, "import": true, "pull": true, "privileges": true,
	}
	// Image and distribution references may contain slashes: these end them.
	apiImageActions = map[string]bool{"json": true, "history": true, "tag": true, "push": true, "get": true}
)

// normalizeAPIPath turns "/v1.41/services/abc123/update?x=1" into
// "/services/{id}/update".
func normalizeAPIPath(path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	path = apiVersionPrefix.ReplaceAllString(path, "/")
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(segs) < 2 || !apiCollections[segs[0]] || apiCollectionActions[segs[1]] {
		return path
	}
	if segs[0] == "images" || segs[0] == "distribution" {
		if last := segs[len(segs)-1]; len(segs) > 2 && apiImageActions[last] {
			return "/" + segs[0] + "/{id}/" + last
		}
		return "/" + segs[0] + "/{id}"
	}
	segs[1] = "{id}"
	return "/" + strings.Join(segs, "/")
}

// TestAPIProxy checks that the proxy counts the requests of a real client,
// forwards a hijacked connection, and that Kill cuts the engine off.
func TestAPIProxy(t *testing.T) {
	realEngine(t)
	for path, want := range map[string]string{
		"/v1.41/services/abc/update?version=3": "/services/{id}/update",
		"/services/create":                     "/services/create",
		"/v1.41/secrets":                       "/secrets",
		"/_ping":                               "/_ping",
		"/v1.41/images/docker.io/lib/x:1/json": "/images/{id}/json",
		"/v1.41/containers/0123abcd/attach":    "/containers/{id}/attach",
	} {
		if got := normalizeAPIPath(path); got != want {
			t.Errorf("normalizeAPIPath(%q) = %q, want %q", path, got, want)
		}
	}

	p := newAPIProxy(t, "")
	api, err := client.NewClientWithOpts(client.WithHost(p.Host()))
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := api.ServerVersion(ctx, client.ServerVersionOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Info(ctx, client.InfoOptions{}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := api.ServiceList(ctx, client.ServiceListOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c := p.Counts()
	if c["GET /version"] != 1 || c["GET /info"] != 1 || c["GET /services"] != 3 || p.Writes() != 0 {
		t.Errorf("counts %v, writes %d", c, p.Writes())
	}
	if total := p.Total(); total < 5 { // plus the negotiation's ping
		t.Errorf("total %d, want at least 5", total)
	}
	p.Reset()
	if p.Total() != 0 || len(p.Counts()) != 0 {
		t.Errorf("after Reset: %v", p.Counts())
	}

	// The docker CLI through the proxy, with a hijacked connection
	// (docker run attaches to the container's output) and writes.
	img := testImage(t)
	cmd := exec.Command("docker", "run", "--rm", img, "cat", "/proc/self/comm")
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+p.Host())
	b, err := cmd.CombinedOutput()
	out := string(b)
	if err != nil {
		t.Fatalf("docker run through the proxy: %v\n%s", err, out)
	}
	if strings.TrimSpace(out) != "app" {
		t.Errorf("docker run printed %q, want app", out)
	}
	c = p.Counts()
	if c["POST /containers/{id}/attach"] != 1 || c["POST /containers/create"] != 1 || p.Writes() < 3 {
		t.Errorf("after docker run: counts %v, writes %d", c, p.Writes())
	}

	// A request in flight is cut, and new connections are refused.
	stream := api.Events(ctx, client.EventsListOptions{})
	events, errs := stream.Messages, stream.Err
	select {
	case err := <-errs:
		t.Fatalf("events: %v", err)
	case <-events:
	case <-time.After(200 * time.Millisecond): // the stream is open
	}
	p.Kill()
	// Other tests make events too: the client's reader blocks handing each
	// one over until it is taken, so keep taking them until the error comes.
	cut := time.After(5 * time.Second)
stream:
	for {
		select {
		case <-events:
		case err := <-errs:
			if err == nil {
				t.Error("the event stream ended without an error")
			}
			break stream
		case <-cut:
			t.Error("Kill did not cut the open event stream")
			break stream
		}
	}
	if _, err := api.ServerVersion(ctx, client.ServerVersionOptions{}); err == nil {
		t.Error("a request after Kill succeeded")
	} else if !client.IsErrConnectionFailed(err) {
		t.Errorf("after Kill: %v, want a connection failure", err)
	}
	if c, err := net.Dial("unix", strings.TrimPrefix(p.Host(), "unix://")); err == nil {
		c.Close()
		t.Error("a connection after Kill was accepted")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial after Kill: %v, want connection refused", err)
	}
	p.Kill() // twice is fine
}
